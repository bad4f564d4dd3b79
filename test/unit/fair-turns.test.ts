import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FairTurns } from "../../src/fair-turns.js";

const never = new AbortController().signal;

describe("FairTurns", () => {
  it("hands out free turns at once and no more than the limit", () => {
    const turns = new FairTurns(2);
    const a = turns.tryTake();
    const b = turns.tryTake();
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(turns.tryTake()).toBeUndefined();
    expect(turns.running).toBe(2);
    a!();
    a!(); // a second release gives nothing back twice
    expect(turns.running).toBe(1);
    expect(turns.tryTake()).toBeDefined();
  });

  it("with limit 0 never makes anyone wait", async () => {
    const turns = new FairTurns(0);
    const all = await Promise.all(Array.from({ length: 100 }, () => turns.take("m", never)));
    expect(turns.running).toBe(100);
    for (const release of all) release();
    expect(turns.running).toBe(0);
  });

  it("gives a freed turn to the members waiting one after another, each member's own in arrival order", async () => {
    const turns = new FairTurns(1);
    const held = turns.tryTake()!;
    const order: string[] = [];
    // Each waiter, once it has its turn, notes it and gives it back: one release runs the whole line.
    const wait = (member: string, n: number) =>
      turns.take(member, never).then((release) => {
        order.push(`${member}${n}`);
        release();
      });
    const pending = [wait("a", 1), wait("a", 2), wait("a", 3), wait("b", 1), wait("c", 1), wait("b", 2)];
    expect(turns.waiting()).toBe(6);
    expect(turns.waiting("a")).toBe(3);
    // A freed turn does not go to a newcomer while others wait.
    expect(turns.tryTake()).toBeUndefined();
    held();
    await Promise.all(pending);
    expect(order).toEqual(["a1", "b1", "c1", "a2", "b2", "a3"]);
    expect(turns.running).toBe(0);
    expect(turns.waiting()).toBe(0);
  });

  it("lets a waiter whose signal aborts leave without a turn", async () => {
    const turns = new FairTurns(1);
    const held = turns.tryTake()!;
    const gone = new AbortController();
    const leaving = turns.take("a", gone.signal);
    const staying = turns.take("b", never);
    gone.abort(new Error("gave up"));
    await expect(leaving).rejects.toThrow("gave up");
    expect(turns.waiting()).toBe(1);
    held();
    const release = await staying;
    expect(turns.running).toBe(1);
    release();
    expect(turns.running).toBe(0);
    // An aborted signal gets no turn, even a free one.
    await expect(turns.take("a", gone.signal)).rejects.toThrow("gave up");
    expect(turns.running).toBe(0);
  });

  it("never runs more than its limit, and every member's operations end, whatever the arrivals, releases and aborts", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ member: fc.constantFrom("a", "b", "c"), abort: fc.boolean() }), { minLength: 1, maxLength: 30 }),
        async (limit, ops) => {
          const turns = new FairTurns(limit);
          let peak = 0;
          let done = 0;
          const controllers = ops.map(() => new AbortController());
          const runs = ops.map((op, i) =>
            turns.take(op.member, controllers[i]!.signal).then(
              async (release) => {
                peak = Math.max(peak, turns.running);
                await new Promise((r) => setImmediate(r));
                release();
                done++;
              },
              () => {
                done++;
              },
            ),
          );
          ops.forEach((op, i) => op.abort && controllers[i]!.abort(new Error("gone")));
          await Promise.all(runs);
          expect(peak).toBeLessThanOrEqual(limit);
          expect(done).toBe(ops.length);
          expect(turns.running).toBe(0);
          expect(turns.waiting()).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
