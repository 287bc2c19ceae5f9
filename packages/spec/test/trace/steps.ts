/** Trace-step builders the trace, lint and guest-program tests share. */

export type Json = Record<string, unknown>;

/**
 * A step of thread 1, the vCPU's owner in these tests' traces, on the vCPU bound as `$cpu`: `args` adds
 * to the vCPU argument, `more` adds fields (`expect`, `bind`, ...) or moves the step to another thread.
 */
export const onCpu = (call: string, args: Json = {}, more: Json = {}): Json => ({
  thread: 1,
  call,
  args: { vcpu: '$cpu', ...args },
  ...more,
});
