/**
 * The Arm ARM's ConditionHolds, shared by the interpreter's fast and slow paths (B.cond, CSEL, CCMP…).
 * @module
 */

/** cond<3:1> picks a test of NZCV (f: N = 8, Z = 4, C = 2, V = 1); Arm ARM, ConditionHolds(). */
const TESTS: readonly ((f: number) => boolean)[] = [
  (f) => (f & 4) !== 0, // EQ: Z
  (f) => (f & 2) !== 0, // CS: C
  (f) => (f & 8) !== 0, // MI: N
  (f) => (f & 1) !== 0, // VS: V
  (f) => (f & 6) === 2, // HI: C and not Z
  (f) => ((f >>> 3) & 1) === (f & 1), // GE: N = V
  (f) => ((f >>> 3) & 1) === (f & 1) && (f & 4) === 0, // GT: N = V and not Z
  () => true, // AL
];

/** Every (cond, NZCV) answer, so that a conditional instruction costs one load: index cond * 16 + NZCV. */
const HOLDS = Uint8Array.from({ length: 256 }, (_, i) => {
  const cond = i >>> 4;
  const r = (TESTS[cond >>> 1] as (f: number) => boolean)(i & 15);
  // cond<0> inverts the test, except for 0b1111, which is "always" like 0b1110.
  return Number((cond & 1) === 1 && cond !== 15 ? !r : r);
});

/** Whether condition `cond` (4 bits) holds for flags `nzcv` (4 bits, N in bit 3). */
export function condHolds(cond: number, nzcv: number): boolean {
  return HOLDS[((cond & 15) << 4) | (nzcv & 15)] === 1;
}
