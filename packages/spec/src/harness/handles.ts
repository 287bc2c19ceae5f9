/**
 * The calls whose out-value is a handle later calls pass back, and the argument name they are passed
 * back as. Traces bind these handles by name; differential runs translate them between backends.
 * @module
 */
export const HANDLE_CALLS: Readonly<Record<string, 'vcpu' | 'config' | 'asid'>> = {
  hv_vcpu_create: 'vcpu',
  hv_vm_config_create: 'config',
  hv_vm_space_create: 'asid',
};
