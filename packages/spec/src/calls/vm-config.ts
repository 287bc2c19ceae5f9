/**
 * What the arm64 VM-configuration calls share (`hv_vm_config_*` in `arm64.ts` and
 * `arm64-config.ts`): finding the configuration object a call names, rejecting one that is not, and
 * storing an argument in it.
 * @module
 */
import type { SpecState, SpecVmConfig } from '../state.js';
import { arg, NOT_SUCCESS, U } from './dsl.js';
import type { Row, SpecCall } from './types.js';

/** The VM configuration named by the `config` argument, if it is one. */
export function vmConfigOf(s: SpecState, c: SpecCall): SpecVmConfig | undefined {
  return s.configs.get(Number(c.args.config));
}

/** The row every call on a VM configuration starts with. */
export const badVmConfig: Row = {
  id: 'bad-config',
  when: 'config is not an object returned by hv_vm_config_create',
  applies: (s, c) => !vmConfigOf(s, c),
  ret: NOT_SUCCESS,
  evidence: U,
  source: 'hvf-facts §2.3: config objects come from hv_vm_config_create; others are undocumented',
};

/** The effect of a setter: the configuration holds the argument `argName` as `field`. */
export function storeInVmConfig<K extends keyof SpecVmConfig>(
  field: K,
  argName: string,
): NonNullable<Row['effect']> {
  return (s, c) => {
    const cfg = vmConfigOf(s, c);
    if (cfg) cfg[field] = arg<SpecVmConfig[K]>(c, argName);
  };
}
