/**
 * How to get access to /dev/kvm on this host. Distributions differ: most give the device to a `kvm`
 * group with mode 0660 (udev's 50-udev-default.rules), but on others (containers, minimal images) it is
 * `root:root 0600` and no `kvm` group exists, so "add yourself to the kvm group" is advice that cannot
 * be followed. The fix is derived from the device's owner, group and mode and from /etc/group.
 * @module
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';

/** The owner, group and permission bits of the device. */
export interface DeviceInfo {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/** The name of group `gid` in an /etc/group text, if it has one there. */
export function groupName(groupFile: string, gid: number): string | undefined {
  for (const line of groupFile.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && Number(id) === gid && id.trim() !== '') return name;
  }
  return undefined;
}

/**
 * What grants `user` read-write access to the device: membership of the device's group when the group
 * has read-write permission and exists by name; otherwise an ACL for the user (`setfacl`, from the
 * `acl` package), which lasts until the device node is recreated (a udev rule makes it permanent).
 */
export function kvmAccessFix(path: string, dev: DeviceInfo, groupFile: string, user: string): string {
  const groupRw = (dev.mode & 0o060) === 0o060;
  const group = groupName(groupFile, dev.gid);
  if (groupRw && group && dev.gid !== 0) {
    return `add ${user} to the group that owns ${path}, '${group}' (sudo usermod -aG ${group} ${user}), and log in again`;
  }
  const owner = group ? `${group}` : `gid ${dev.gid}`;
  return (
    `${path} is ${dev.uid === 0 ? 'root' : `uid ${dev.uid}`}:${owner} mode ${(dev.mode & 0o777).toString(8).padStart(4, '0')}, ` +
    `so no group grants access; give ${user} an ACL: sudo setfacl -m u:${user}:rw ${path} ` +
    `(package acl; until the device is recreated, a udev rule makes it permanent)`
  );
}

/**
 * The fix to show for the native backend's unavailability: where /dev/kvm exists but cannot be opened
 * read-write, the one derived from this host (the provider's generic advice names a `kvm` group that
 * may not exist); otherwise the backend's own.
 */
export function hostFix(fix: string | undefined, path = '/dev/kvm'): string | undefined {
  if (process.platform !== 'linux') return fix;
  let dev: DeviceInfo;
  try {
    const st = statSync(path);
    dev = { uid: st.uid, gid: st.gid, mode: st.mode };
  } catch {
    return fix;
  }
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return fix;
  } catch {
    // Present but not usable by this user: a permission problem, whatever the backend said.
  }
  let groups = '';
  try {
    groups = readFileSync('/etc/group', 'utf8');
  } catch {
    // No /etc/group: no group can be named, so the fix is an ACL.
  }
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = '$USER';
  }
  return kvmAccessFix(path, dev, groups, user);
}
