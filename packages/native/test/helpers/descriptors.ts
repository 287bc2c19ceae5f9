/**
 * The descriptors the native backend can leak: `/dev/kvm` and what KVM's ioctls make (`anon_inode:kvm-vm`,
 * `anon_inode:kvm-vcpu:N`). The provider opens nothing else. The process's other descriptors (the test
 * runner's channel, libuv's, tsx's) open and close on their own schedule; counting them all made a leak
 * check fail once on one of those closing mid-test (27 descriptors after, 28 before).
 */
import { readdirSync, readlinkSync } from 'node:fs';

export function kvmDescriptors(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed since the listing
    }
    if (target === '/dev/kvm' || target.startsWith('anon_inode:kvm')) n++;
  }
  return n;
}
