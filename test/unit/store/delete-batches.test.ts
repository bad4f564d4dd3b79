import { describe, expect, it } from "vitest";
import type { WriteOp } from "../../../src/store/database.js";
import { DeleteBatches } from "../../../src/store/delete-batches.js";

const del = (key: string) => ({ type: "del", key }) as unknown as WriteOp;

describe("DeleteBatches", () => {
  it("writes a batch each time batchSize operations are queued, counts items, and writes the rest at the end", async () => {
    const writes: string[][] = [];
    const db = { write: async (ops: readonly WriteOp[]) => void writes.push(ops.map((o) => (o as unknown as { key: string }).key)) };
    const deletes = new DeleteBatches(db, { batchSize: 3 });
    expect(await deletes.add([del("a1"), del("a2")])).toBe(false);
    expect(await deletes.add([del("w1")], false)).toBe(false);
    expect(writes).toEqual([["a1", "a2", "w1"]]);
    expect(await deletes.add([del("b1"), del("b2")])).toBe(false);
    expect(await deletes.finish()).toBe(2);
    expect(writes).toEqual([["a1", "a2", "w1"], ["b1", "b2"]]);
  });

  it("says stop right after a batch is written once halted, and counts only what was written", async () => {
    let halted = false;
    let written = 0;
    const deletes = new DeleteBatches({ write: async (ops) => void (written += ops.length) }, { batchSize: 2, halted: () => halted });
    expect(await deletes.add([del("a")])).toBe(false);
    halted = true;
    // Not a batch boundary yet: the item's deletes are only queued.
    expect(written).toBe(0);
    expect(await deletes.add([del("b")])).toBe(true);
    expect(written).toBe(2);
    expect(await deletes.finish()).toBe(2);
  });
});
