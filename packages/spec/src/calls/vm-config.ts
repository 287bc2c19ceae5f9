/**
 * What the arm64 VM-configuration calls share (`hv_vm_config_*` in `arm64.ts` and
 * `arm64-config.ts`): finding the configuration object a call names, rejecting one that is not, and
 * storing an argument in it.
 * @module
 */
import type { SpecState, SpecVmConfig } from '../state.js';
import { always, arg, H, NOT_SUCCESS, SUCCESS, U } from './dsl.js';
import type { CallSpec, InParam, OutParam, Row, SpecCall } from './types.js';

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

/**
 * A call that reads a field of a VM configuration: what its setter stored last, unspecified if it never
 * did (hvf-facts §2.3 [H]).
 */
export function vmConfigGetter(f: {
  readonly get: string;
  readonly summary: string;
  readonly availability: string;
  readonly config: InParam;
  readonly out: OutParam;
  readonly field: keyof SpecVmConfig;
  /** What the value is: the field as its setter left it. */
  readonly last: string;
  readonly source: string;
}): CallSpec {
  return {
    name: f.get,
    arch: 'arm64',
    summary: f.summary,
    availability: f.availability,
    thread: 'process',
    header: 'hv_vm_config.h',
    params: [f.config, f.out],
    rows: [
      badVmConfig,
      {
        id: 'ok',
        when: `config is ${f.config.doc}`,
        applies: always,
        ret: SUCCESS,
        result: `value = ${f.last}; unspecified if never set`,
        evidence: H,
        source: f.source,
        expect: (s, c) => vmConfigOf(s, c)?.[f.field],
      },
    ],
  };
}
