/**
 * The statistics `compare` needs, written out so that the bench has no dependency beyond tinybench:
 * summary statistics, the one-sided Mann-Whitney U test (normal approximation with tie and continuity
 * corrections) and Welch's t-test (Student's t from the regularised incomplete beta function).
 * Formulas: Mann & Whitney (1947); Welch (1947); Numerical Recipes §6.2–6.4 for erfc and betai.
 * @module
 */

/** Mean, standard deviation (n − 1), count, median and 99th percentile of a sample. */
export interface Summary {
  readonly n: number;
  readonly mean: number;
  readonly sd: number;
  readonly p50: number;
  readonly p99: number;
}

/** Linear interpolation between order statistics (the same rule as tinybench's percentiles). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** The {@link Summary} of `samples` (any order); all NaN but `n` for an empty sample, `sd` 0 for one value. */
export function summarize(samples: readonly number[]): Summary {
  const n = samples.length;
  if (n === 0) return { n: 0, mean: Number.NaN, sd: Number.NaN, p50: Number.NaN, p99: Number.NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  let sum = 0;
  for (const x of sorted) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of sorted) ss += (x - mean) ** 2;
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  return { n, mean, sd, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** Complementary error function, fractional error below 1.2e-7 everywhere (Numerical Recipes `erfcc`). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(Z > z) for a standard normal Z. */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const xx = x - 1;
  let a = c[0]!;
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes `betacf`). */
function betacf(a: number, b: number, x: number): number {
  const FPMIN = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-14) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const bt = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (bt * betacf(a, b, x)) / a : 1 - (bt * betacf(b, a, 1 - x)) / b;
}

/** P(T > t) for Student's t with `df` degrees of freedom (df may be fractional, as Welch's is). */
export function studentUpperTail(t: number, df: number): number {
  if (!Number.isFinite(t)) return t > 0 ? 0 : 1;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? tail : 1 - tail;
}

/** A one-sided test of "b is larger than a". */
export interface OneSidedTest {
  /** The test statistic: z for Mann-Whitney, t for Welch. */
  readonly statistic: number;
  /** P-value of the alternative "b tends to be larger than a". */
  readonly pGreater: number;
  /** P-value of the alternative "b tends to be smaller than a". */
  readonly pLess: number;
  /** Welch's degrees of freedom; absent for Mann-Whitney. */
  readonly df?: number;
}

/**
 * Mann-Whitney U test of sample `b` against sample `a`, one-sided both ways, by the normal
 * approximation with the tie correction of the variance and a continuity correction of 0.5. Good for
 * the sample sizes a bench collects (tens to thousands); makes no normality assumption, which suits
 * latency samples with long right tails.
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): OneSidedTest {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { statistic: 0, pGreater: 1, pLess: 1 };
  const all: Array<{ v: number; fromB: boolean }> = [];
  for (const v of a) all.push({ v, fromB: false });
  for (const v of b) all.push({ v, fromB: true });
  all.sort((x, y) => x.v - y.v);
  const n = n1 + n2;
  let rankSumB = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && all[j + 1]?.v === all[i]?.v) j++;
    const rank = (i + j) / 2 + 1; // ranks are 1-based; ties share their mean rank
    const t = j - i + 1;
    if (t > 1) tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if (all[k]?.fromB) rankSumB += rank;
    i = j + 1;
  }
  const u = rankSumB - (n2 * (n2 + 1)) / 2;
  const mu = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { statistic: 0, pGreater: 1, pLess: 1 };
  const sd = Math.sqrt(variance);
  const statistic = (u - mu) / sd;
  return {
    statistic,
    pGreater: normalUpperTail((u - mu - 0.5) / sd),
    pLess: 1 - normalUpperTail((u - mu + 0.5) / sd),
  };
}

/** Welch's unequal-variances t-test of `b` against `a`, from summary statistics, one-sided both ways. */
export function welch(
  a: Pick<Summary, 'n' | 'mean' | 'sd'>,
  b: Pick<Summary, 'n' | 'mean' | 'sd'>,
): OneSidedTest {
  if (a.n < 2 || b.n < 2) return { statistic: 0, pGreater: 1, pLess: 1 };
  const va = (a.sd * a.sd) / a.n;
  const vb = (b.sd * b.sd) / b.n;
  const se = Math.sqrt(va + vb);
  if (se === 0) {
    const d = b.mean - a.mean;
    return {
      statistic: d === 0 ? 0 : d > 0 ? Infinity : -Infinity,
      pGreater: d > 0 ? 0 : 1,
      pLess: d < 0 ? 0 : 1,
    };
  }
  const t = (b.mean - a.mean) / se;
  const df = (va + vb) ** 2 / ((va * va) / (a.n - 1) + (vb * vb) / (b.n - 1));
  return { statistic: t, df, pGreater: studentUpperTail(t, df), pLess: studentUpperTail(-t, df) };
}

/**
 * The exact null distribution of the Mann-Whitney statistic U_b (pairs with b above a) for sample
 * sizes m and n without ties: counts of the C(m+n, m) equally likely orderings, by U. Recurrence on
 * the largest value: from b it lies above all m values of a (adds m), from a it adds nothing.
 */
export function mannWhitneyCounts(m: number, n: number): number[] {
  // table[i][j] = counts for sizes (i, j); rows built for i = 0..m, j = 0..n.
  let prev: number[][] = Array.from({ length: n + 1 }, () => [1]); // i = 0: only U = 0
  for (let i = 1; i <= m; i++) {
    const row: number[][] = [[1]]; // j = 0: only U = 0
    for (let j = 1; j <= n; j++) {
      const out = new Array<number>(i * j + 1).fill(0);
      const fromA = prev[j]!; // largest from a: sizes (i − 1, j), U unchanged
      const fromB = row[j - 1]!; // largest from b: sizes (i, j − 1), U + i
      for (let u = 0; u < fromA.length; u++) out[u]! += fromA[u]!;
      for (let u = 0; u < fromB.length; u++) out[u + i]! += fromB[u]!;
      row.push(out);
    }
    prev = row;
  }
  return prev[n]!;
}

/**
 * Mann-Whitney U of `b` against `a` with exact p-values when the samples are small (both ≤ 20) and
 * have no ties, which is the case of a handful of per-round medians; otherwise the normal
 * approximation of `mannWhitney`. The statistic reported is U_b − m·n/2.
 */
export function mannWhitneySmall(a: readonly number[], b: readonly number[]): OneSidedTest {
  const m = a.length;
  const n = b.length;
  const all = [...a, ...b];
  const ties = new Set(all).size !== all.length;
  if (m === 0 || n === 0 || m > 20 || n > 20 || ties) return mannWhitney(a, b);
  let u = 0;
  for (const x of a) for (const y of b) if (y > x) u++;
  const counts = mannWhitneyCounts(m, n);
  let total = 0;
  for (const c of counts) total += c;
  let atLeast = 0;
  let atMost = 0;
  for (let k = 0; k < counts.length; k++) {
    if (k >= u) atLeast += counts[k]!;
    if (k <= u) atMost += counts[k]!;
  }
  return { statistic: u - (m * n) / 2, pGreater: atLeast / total, pLess: atMost / total };
}
