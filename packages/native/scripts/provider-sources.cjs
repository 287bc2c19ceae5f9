// Prints the KVM provider's C++ sources (provider/*.cc), one per line, for binding.gyp's
// `<!@(node scripts/provider-sources.cjs)`. Fails when there are none: an addon linked without its
// provider would load and then die on the first unresolved hv_* call.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'provider');
const files = fs.existsSync(dir)
  ? fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.cc'))
      .sort()
      .map((f) => `provider/${f}`)
  : [];
if (files.length === 0) {
  process.stderr.write('hvspec: no KVM provider sources in packages/native/provider/*.cc\n');
  process.exit(1);
}
process.stdout.write(`${files.join('\n')}\n`);
