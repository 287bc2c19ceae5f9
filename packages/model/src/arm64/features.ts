/**
 * What `hv_vcpu_config_get_feature_reg` and `hv_vcpu_config_get_ccsidr_el1_sys_reg_values` answer: the
 * model's pretend host, the same core a vCPU's ID registers describe (state.ts), with a cache hierarchy
 * of its own (Apple publishes none): 64-byte lines; L1 64 KiB data and 64 KiB instruction caches, 4-way;
 * a unified 4 MiB L2, 16-way. The values are in the Arm ARM's layouts (D19 CTR_EL0, CLIDR_EL1, DCZID_EL0,
 * CCSIDR_EL1 without FEAT_CCIDX), so a guest or VMM that sizes its cache maintenance from them gets a
 * consistent answer.
 * @module
 */
import { HV_FEATURE_REG as F, HV_CACHE_TYPE, HV_SYS_REG as S } from '@hvspec/spec';
import { MODEL_ID_REGISTERS } from './state.js';

/** CCSIDR_EL1: LineSize = log2(bytes) - 4, Associativity = ways - 1, NumSets = sets - 1. */
function ccsidr(sizeBytes: number, ways: number, lineBytes: number): bigint {
  const sets = sizeBytes / (ways * lineBytes);
  return BigInt(((sets - 1) << 13) | ((ways - 1) << 3) | (Math.log2(lineBytes) - 4));
}

const L1 = ccsidr(64 * 1024, 4, 64);
const L2 = ccsidr(4 * 1024 * 1024, 16, 64);

/**
 * CTR_EL0: bit 31 RES1, CWG and ERG 16 words (4), DminLine and IminLine 16 words (4: 64 bytes),
 * L1Ip 0b11 (PIPT).
 */
const CTR_EL0 = 0x8444_c004n;
/** CLIDR_EL1: Ctype1 0b011 (separate I and D), Ctype2 0b100 (unified); LoUIS 1, LoC 2, LoUU 1. */
const CLIDR_EL1 = 0x3n | (0x4n << 3n) | (1n << 21n) | (2n << 24n) | (1n << 27n);
/** DCZID_EL0: DC ZVA permitted (DZP 0), blocks of 2^4 words (64 bytes). */
const DCZID_EL0 = 0x4n;

const BY_FEATURE: Readonly<Record<number, bigint>> = {
  [F.HV_FEATURE_REG_ID_AA64DFR0_EL1]: MODEL_ID_REGISTERS.get(S.HV_SYS_REG_ID_AA64DFR0_EL1) ?? 0n,
  [F.HV_FEATURE_REG_ID_AA64DFR1_EL1]: 0n,
  [F.HV_FEATURE_REG_ID_AA64ISAR0_EL1]: 0n,
  [F.HV_FEATURE_REG_ID_AA64ISAR1_EL1]: 0n,
  [F.HV_FEATURE_REG_ID_AA64MMFR0_EL1]: MODEL_ID_REGISTERS.get(S.HV_SYS_REG_ID_AA64MMFR0_EL1) ?? 0n,
  [F.HV_FEATURE_REG_ID_AA64MMFR1_EL1]: 0n,
  [F.HV_FEATURE_REG_ID_AA64MMFR2_EL1]: 0n,
  [F.HV_FEATURE_REG_ID_AA64PFR0_EL1]: MODEL_ID_REGISTERS.get(S.HV_SYS_REG_ID_AA64PFR0_EL1) ?? 0n,
  [F.HV_FEATURE_REG_ID_AA64PFR1_EL1]: 0n,
  [F.HV_FEATURE_REG_CTR_EL0]: CTR_EL0,
  [F.HV_FEATURE_REG_CLIDR_EL1]: CLIDR_EL1,
  [F.HV_FEATURE_REG_DCZID_EL0]: DCZID_EL0,
  [F.HV_FEATURE_REG_ID_AA64SMFR0_EL1]: 0n,
  [F.HV_FEATURE_REG_ID_AA64ZFR0_EL1]: 0n,
};

/** A feature register of the pretend host, or undefined for a value outside `hv_feature_reg_t`. */
export function modelFeatureReg(reg: number): bigint | undefined {
  return BY_FEATURE[reg];
}

/**
 * CCSIDR_EL1 per cache level (index = level - 1), as CSSELR_EL1 selects them: the data (or unified) or
 * the instruction cache of each level CLIDR_EL1 names; 0 where there is none. Undefined for a value
 * outside `hv_cache_type_t`.
 */
export function modelCcsidr(cacheType: number): readonly bigint[] | undefined {
  if (cacheType === HV_CACHE_TYPE.HV_CACHE_TYPE_DATA) return [L1, L2, 0n, 0n, 0n, 0n, 0n, 0n];
  if (cacheType === HV_CACHE_TYPE.HV_CACHE_TYPE_INSTRUCTION) return [L1, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  return undefined;
}
