/** Whether this machine has a hypervisor for the native backend, and which flavour it runs. */
import { existsSync } from 'node:fs';

/** macOS (Hypervisor.framework) or Linux with /dev/kvm (the KVM provider). */
export const hardware = process.platform === 'darwin' || existsSync('/dev/kvm');
export const arch = process.platform === 'darwin' && process.arch === 'arm64' ? 'arm64' : 'x86_64';
/** The `skip` option of a test that needs the hypervisor. */
export const skipWithoutHardware = hardware ? false : 'no hypervisor here (no /dev/kvm, not macOS)';
