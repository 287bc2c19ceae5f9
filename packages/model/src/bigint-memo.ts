/**
 * One-entry memos for the BigInt ↔ number conversions on the run loops' hot paths.
 *
 * Registers and VMCS fields are bigints (the `hv_*` API's uint64_t), the interpreters compute with
 * numbers. In V8 `BigInt(n)`, `Number(b)` and `BigInt.asUintN` cost 15–45 ns each and allocate, and an
 * exit loop converts the same values on every round trip (the RIP the VMM writes back, the RIP and
 * exit qualification of the next exit, CR0, RFLAGS, CS.base): remembering the last conversion turns
 * each into a comparison. They change nothing but speed: `of` returns what the plain conversion would.
 * @module
 */

/** `Number(BigInt.asUintN(32, v))`, remembering the last `v`. */
export class Low32Memo {
  private big = 0n;
  private num = 0;

  of(v: bigint): number {
    if (v !== this.big) {
      this.big = v;
      this.num = Number(BigInt.asUintN(32, v));
    }
    return this.num;
  }
}

/** `BigInt(n)` for a safe integer `n`, remembering the last `n`. */
export class BigIntMemo {
  private num = 0;
  private big = 0n;

  of(n: number): bigint {
    if (n !== this.num) {
      this.num = n;
      this.big = BigInt(n);
    }
    return this.big;
  }
}
