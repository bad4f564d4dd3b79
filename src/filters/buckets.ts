/**
 * Filter sizes are padded to buckets so that a published filter tells other
 * members a member's portfolio size (or, for a delta, how many customers it
 * gained in an interval) only roughly: below MIN_BUCKET not at all, above it
 * to within one step of 1/8 to 1/16 of the size. Eight steps per doubling
 * keep the padding (bytes on the wire) under 12.5 %.
 */
export const MIN_BUCKET = 64;
const STEPS_PER_DOUBLING_LOG2 = 3;

export function paddedCapacity(count: number): number {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (count <= MIN_BUCKET) return MIN_BUCKET;
  const step = 2 ** (Math.floor(Math.log2(count)) - STEPS_PER_DOUBLING_LOG2);
  return Math.ceil(count / step) * step;
}
