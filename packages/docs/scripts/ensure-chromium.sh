#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the docs' real-browser test (packages/docs/test/browser.test.ts).
# Installs it with apt only when it is missing and we are root (CI containers); otherwise says what to do.
# Prints the path of the browser on success.
set -euo pipefail
BROWSER="${HVSPEC_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$BROWSER" ]; then
  echo "$BROWSER"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is not installed at $BROWSER and this is not root: run 'sudo apt-get install -y chromium' (or set HVSPEC_CHROMIUM)" >&2
  exit 3
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is not installed at $BROWSER and there is no apt-get here: install chromium (or set HVSPEC_CHROMIUM)" >&2
  exit 3
fi
echo "installing chromium with apt-get (once)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium >&2
if [ ! -x "$BROWSER" ]; then
  echo "apt-get installed chromium but $BROWSER does not exist" >&2
  exit 3
fi
echo "$BROWSER"
