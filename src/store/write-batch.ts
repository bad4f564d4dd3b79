import type { WriteOp } from "./database.js";
import type { WriteBatch } from "./types.js";

/** store/'s view of a WriteBatch: the operations it carries. */
export function toBatch(ops: readonly WriteOp[]): WriteBatch {
  return ops as unknown as WriteBatch;
}

export function opsOf(batch: WriteBatch | undefined): readonly WriteOp[] {
  return (batch as unknown as readonly WriteOp[] | undefined) ?? [];
}

export const EMPTY_BATCH: WriteBatch = toBatch([]);

/** One batch holding every operation of `batches`, in order. */
export function joinBatches(...batches: (WriteBatch | undefined)[]): WriteBatch {
  return toBatch(batches.flatMap((b) => opsOf(b)));
}

export function isEmptyBatch(batch: WriteBatch | undefined): boolean {
  return opsOf(batch).length === 0;
}
