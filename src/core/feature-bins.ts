/**
 * The fixed histogram bins of `<table>_stats`: one set for every feature of every run, logarithmic,
 * {@link BINS_PER_OCTAVE} per power of two, mirrored for negative values, with one bin around zero.
 * Because the bins never depend on the data, two runs' histograms (and two shards' of one run) line
 * up bin for bin: shards merge by adding counts, and the drift query can regroup any run by a baseline
 * run's deciles (see queries/drift.sql) without re-reading either run's rows. The price is resolution
 * for features far from zero with a narrow spread (a year column: about 90 per bin near 2000), where
 * PSI sees fewer groups.
 */
/** Bins per doubling of |x|: neighbouring bin edges differ by 2^(1/16), about 4.4%. */
export const BINS_PER_OCTAVE = 16;
/** |x| below 2^MIN_EXPONENT (zero included) falls in bin 0. */
export const MIN_EXPONENT = -30;

const ZERO_LIMIT = 2 ** MIN_EXPONENT;

/**
 * The fixed bin of a value: 0 for |x| < 2^-30, else ±(1 + floor(16 × (log2|x| + 30))), signed like x.
 *
 * @example binOf(1) // 481; binOf(-1) // -481; binOf(0) // 0
 */
export function binOf(x: number): number {
  const magnitude = Math.abs(x);
  if (magnitude < ZERO_LIMIT) return 0;
  if (!(magnitude <= Number.MAX_VALUE) || !LITTLE_ENDIAN) {
    const bin = 1 + Math.floor(BINS_PER_OCTAVE * (Math.log2(magnitude) - MIN_EXPONENT));
    return x < 0 ? -bin : bin;
  }
  // ParseResults bins every feature of every row: instead of a logarithm, the double's own exponent
  // gives the octave and its top mantissa bits a first guess within it, which one or two comparisons
  // with the bins' edges (the same numbers binBounds gives) settle exactly.
  BITS_FLOAT[0] = magnitude;
  const high = BITS_WORDS[1] as number;
  let bin =
    1 +
    BINS_PER_OCTAVE * ((high >>> 20) - 1023 - MIN_EXPONENT) +
    (OCTAVE_GUESS[(high >>> 12) & 0xff] as number);
  while (magnitude < (BIN_EDGES[bin] as number)) bin -= 1;
  while (magnitude >= (BIN_EDGES[bin + 1] as number)) bin += 1;
  return x < 0 ? -bin : bin;
}

/** BIN_EDGES[k] is the lower edge of bin k (k ≥ 1), as binBounds computes it; enough for every finite double. */
const BIN_EDGES = (() => {
  const bins = 1 + BINS_PER_OCTAVE * (1024 - MIN_EXPONENT);
  const edges = new Float64Array(bins + 2);
  for (let k = 1; k < edges.length; k += 1) edges[k] = 2 ** ((k - 1) / BINS_PER_OCTAVE + MIN_EXPONENT);
  return edges;
})();
/** The bin within its octave of a mantissa whose top 8 bits are the index: never above the true one. */
const OCTAVE_GUESS = Uint8Array.from({ length: 256 }, (_, top) =>
  Math.floor(BINS_PER_OCTAVE * Math.log2(1 + top / 256)),
);
const BITS_FLOAT = new Float64Array(1);
const BITS_WORDS = new Uint32Array(BITS_FLOAT.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The [lower, upper) range of a bin (for negative bins, the mirror of the positive one). */
export function binBounds(bin: number): [number, number] {
  if (bin === 0) return [-ZERO_LIMIT, ZERO_LIMIT];
  const k = Math.abs(bin);
  const low = 2 ** ((k - 1) / BINS_PER_OCTAVE + MIN_EXPONENT);
  const high = 2 ** (k / BINS_PER_OCTAVE + MIN_EXPONENT);
  return bin > 0 ? [low, high] : [-high, -low];
}
