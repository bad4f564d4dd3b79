import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { filterSha256, verifyAnnouncement, verifyDelta } from "../../../src/filters/announcement.js";
import { FilterBuilder } from "../../../src/filters/builder.js";
import { FilterPublisher } from "../../../src/filters/publisher.js";
import { FilterSchedule } from "../../../src/filters/schedule.js";
import type { Announcement, Delta } from "../../../src/filters/types.js";
import { FilterGossip } from "../../../src/gen/creditmesh/v1/filters.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { silentLogger } from "../../../src/logger.js";
import { NodeTransparencyLog } from "../../../src/node/transparency-log.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LeafKind, LeafSaltKey, decodeLeaf, leafHash, openCheckpoint, parseVerifierKey, splitBundle, verifierKey, verifyInclusion } from "../../../src/tlog/index.js";
import { seededTokens } from "../filters/random.js";
import { tempDir } from "../../helpers/temp.js";

const key = generateNodeKey();
const signer = { institutionId: "bank-f", peerId: key.peerId };

describe("published holder filters in the transparency log", () => {
  const tmp = tempDir("cm-filter-log-");
  let db: NodeDatabase;
  let tlog: NodeTransparencyLog;

  beforeAll(async () => {
    db = await NodeDatabase.open(tmp.dir);
    tlog = await NodeTransparencyLog.open(
      db,
      { origin: "bank-f", checkpointIntervalMs: 3_600_000, auditHeadEvery: 16 },
      { signer: { name: "bank-f", publicKey: key.publicKey, sign: (d) => key.sign(d) }, logger: silentLogger(), metrics: null, saltKey: new LeafSaltKey(new Uint8Array(32).fill(3)) },
    );
  });
  afterAll(async () => {
    await tlog?.stop();
    await db?.close();
    tmp.remove();
  });

  async function entryAt(index: number): Promise<Uint8Array> {
    const bundle = await tlog.store.bundle(Math.floor(index / 256));
    return splitBundle(bundle!)[index % 256]!;
  }

  it("a full filter's leaf (hash, epoch, count) is in the log, durable and provable, before its announcement names it; each delta's too", async () => {
    const clock = new ManualClock("2026-12-03T00:00:00Z");
    const logFilter = (leaf: Parameters<NodeTransparencyLog["filterPublished"]>[0]) => tlog.filterPublished(leaf);
    const builder = new FilterBuilder({ institutionId: "bank-f" }, { tokens: () => seededTokens("filter-log", 50), key, clock, logFilter });
    const schedule = new FilterSchedule({ deltaIntervalMs: 30_000, rebuildIntervalMs: 86_400_000 }, { clock });
    const announcements: Announcement[] = [];
    const deltas: Delta[] = [];
    const sizeAtPublish: number[] = [];
    const publish = async (bytes: Uint8Array) => {
      sizeAtPublish.push(tlog.log.size);
      const kind = FilterGossip.decode(bytes).kind;
      if (kind?.$case === "announcement") announcements.push(verifyAnnouncement(kind.value, signer));
      if (kind?.$case === "delta") deltas.push(verifyDelta(kind.value, signer));
    };
    const publisher = new FilterPublisher({ reannounceEvery: 100 }, { builder, schedule, publish, logger: silentLogger(), logFilter });

    expect(await publisher.tick()).toBe("REBUILD");
    const announced = announcements[0]!;
    expect(announced.logLeafIndex).toBeDefined();
    // The leaf was committed before the announcement went out.
    expect(sizeAtPublish[0]).toBeGreaterThan(announced.logLeafIndex!);
    const { kind, fields } = decodeLeaf(await entryAt(announced.logLeafIndex!));
    expect(kind).toBe(LeafKind.Filter);
    expect(Buffer.from(fields[0]!).toString()).toBe("bank-f");
    expect(fields.slice(1, 4).map((f) => Number(Buffer.from(f).readBigUInt64BE()))).toEqual([announced.epoch, 0, announced.count]);
    expect(Buffer.from(fields[4]!)).toEqual(Buffer.from(announced.filterSha256));
    // The filter's own bytes hash to what the log holds.
    expect(Buffer.from(filterSha256(builder.answerFetch({ epoch: announced.epoch, includeFilter: true, deltasAfter: 0 }).filter!))).toEqual(Buffer.from(fields[4]!));

    // Provable against a signed checkpoint, as any member or auditor would check it.
    const note = (await tlog.publishNow())!;
    const { checkpoint } = openCheckpoint(note, parseVerifierKey(verifierKey("bank-f", key.publicKey)), "bank-f");
    const proof = await tlog.log.inclusionProof(announced.logLeafIndex!, checkpoint.size);
    expect(verifyInclusion(announced.logLeafIndex!, checkpoint.size, leafHash(await entryAt(announced.logLeafIndex!)), proof, checkpoint.root)).toBeNull();

    builder.noteToken("ab".repeat(32));
    clock.advance(30_000);
    expect(await publisher.tick()).toBe("DELTA");
    const delta = deltas[0]!;
    const last = decodeLeaf(await entryAt(tlog.log.size - 1));
    expect(last.kind).toBe(LeafKind.Filter);
    expect(fieldsOf(last.fields)).toEqual({ epoch: delta.epoch, sequence: delta.sequence, count: delta.filter.capacity });
    expect(Buffer.from(last.fields[4]!)).toEqual(Buffer.from(filterSha256(delta.filter.toBytes())));
    expect(sizeAtPublish[1]).toBe(tlog.log.size);
  });
});

function fieldsOf(fields: Uint8Array[]): { epoch: number; sequence: number; count: number } {
  const [epoch, sequence, count] = fields.slice(1, 4).map((f) => Number(Buffer.from(f).readBigUInt64BE()));
  return { epoch: epoch!, sequence: sequence!, count: count! };
}
