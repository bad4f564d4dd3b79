import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HolderStatus } from "../../../src/gen/creditmesh/v1/common.js";
import { HolderAnswer, type Tradeline } from "../../../src/gen/creditmesh/v1/report.js";
import { generateNodeKey } from "../../../src/identity/node-key.js";
import { NodeDatabase } from "../../../src/store/database.js";
import { LevelLogStore } from "../../../src/store/level-log-store.js";
import {
  buildAnswerProof,
  checkAnswerProof,
  inquiryLeaf,
  newSalt,
  recordVersionLeaf,
  sha256,
  signCheckpoint,
  TiledLog,
  VerifiedCheckpoints,
  type AnswerProofSource,
  type RecordLeafOpening,
} from "../../../src/tlog/index.js";
import { tempDir } from "../../helpers/temp.js";

const HOLDER = "cfc-b";
const TOKEN = "ab".repeat(32);
const key = generateNodeKey();
const signer = { name: HOLDER, publicKey: key.publicKey, sign: (d: Uint8Array) => key.sign(d) };

let tmp: ReturnType<typeof tempDir>;
let db: NodeDatabase;
beforeEach(async () => {
  tmp = tempDir("cm-answer-proof-");
  db = await NodeDatabase.open(tmp.dir);
});
afterEach(async () => {
  await db.close();
  tmp.remove();
});

/**
 * A holder's log with other leaves around two accounts' record versions and a
 * query's inquiry leaf, and a signed answer proving them, built as the node
 * builds it.
 */
async function holderAnswer(opts: { logAccounts?: boolean } = {}) {
  const log = await TiledLog.init(new LevelLogStore(db));
  const filler = (n: number, tag: string) => Array.from({ length: n }, (_, i) => Buffer.from(`${tag} ${i}`));
  const openings = new Map<string, RecordLeafOpening>();
  await log.append(filler(300, "before"));
  for (const [accountRef, version] of [["acct-1", 1], ["acct-2", 3]] as const) {
    const salt = newSalt();
    const canonical = Buffer.from(JSON.stringify({ accountRef, version }));
    const { first } = await log.append([recordVersionLeaf({ recordKind: "account", subjectToken: TOKEN, accountRef, version, canonicalRecord: canonical, salt })]);
    openings.set(accountRef, { index: first, version, salt, canonicalHash: sha256(canonical) });
    await log.append(filler(40, accountRef));
  }
  const signedQuery = Buffer.from("the signed query envelope");
  const { first: inquiryIndex } = await log.append([inquiryLeaf(sha256(signedQuery))]);
  await log.append(filler(7, "after"));
  const source: AnswerProofSource = {
    size: () => log.size,
    checkpointAt: async (size) => signCheckpoint({ origin: HOLDER, size, root: await log.root(size) }, signer),
    inclusionProof: (index, size) => log.inclusionProof(index, size),
    recordLeaves: async (refs) =>
      refs.map((ref) => (opts.logAccounts === false ? { missing: "no record-version leaf logged for this account" } : openings.get(ref) ?? { missing: "unknown" })),
  };
  const tradelines = ["acct-1", "acct-2"].map((accountRef) => ({ institutionId: HOLDER, accountRef }) as Tradeline);
  const logProof = await buildAnswerProof(source, { inquiryIndex, signedQueryHash: sha256(signedQuery), accountRefs: tradelines.map((t) => t.accountRef) });
  const answer = HolderAnswer.fromPartial({ requestId: "req-1", holderInstitutionId: HOLDER, subjectToken: TOKEN, status: HolderStatus.OK, tradelines, logProof });
  // Through the wire encoding, as the requester gets it.
  return { answer: HolderAnswer.decode(HolderAnswer.encode(answer).finish()), signedQuery, log, openings };
}

const check = (answer: HolderAnswer, signedQuery?: Uint8Array, required = true) =>
  checkAnswerProof(answer, { publicKey: key.publicKey, signedQueryHash: signedQuery && sha256(signedQuery), required });

describe("answer log proofs", () => {
  it("prove the inquiry leaf and each tradeline's record leaf in a checkpoint signed by the holder", async () => {
    const { answer, signedQuery, log } = await holderAnswer();
    const result = check(answer, signedQuery);
    expect(result.problem).toBeUndefined();
    expect(result).toMatchObject({ proved: true, recordsProved: 2, recordsUnlogged: 0 });
    expect(result.checkpoint!.size).toBe(log.size);
    // Offline, without the query's bytes, the hash the holder signed is what is checked.
    expect(check(answer).proved).toBe(true);
  });

  it("open to the v2 leaf the log holds, rebuilt from the opening and the canonical hash alone", async () => {
    const { log, openings } = await holderAnswer();
    const o = openings.get("acct-2")!;
    const rebuilt = recordVersionLeaf({ recordKind: "account", subjectToken: TOKEN, accountRef: "acct-2", version: o.version, canonicalHash: o.canonicalHash, salt: o.salt });
    expect(Buffer.from(await log.entry(o.index))).toEqual(Buffer.from(rebuilt));
  });

  it("say so when an account has no record leaf, and still prove the inquiry", async () => {
    const { answer, signedQuery } = await holderAnswer({ logAccounts: false });
    expect(answer.logProof!.records.map((r) => [r.accountRef, r.logged, r.reason])).toEqual([
      ["acct-1", false, "no record-version leaf logged for this account"],
      ["acct-2", false, "no record-version leaf logged for this account"],
    ]);
    expect(check(answer, signedQuery)).toMatchObject({ proved: true, recordsProved: 0, recordsUnlogged: 2 });
    answer.logProof!.records[0]!.reason = "";
    expect(check(answer, signedQuery).problem).toBe("records[0].reason: an unlogged record must say why");
  });

  const tamperings: [string, (a: HolderAnswer) => void, RegExp][] = [
    ["a flipped inquiry proof byte", (a) => void (a.logProof!.inquiry!.hashes[0]![5] ^= 1), /^inquiry: leaf \d+ is not in the checkpoint of size \d+ \(root does not match\)$/],
    ["a dropped inquiry proof hash", (a) => void a.logProof!.inquiry!.hashes.pop(), /^inquiry: .*proof is too short/],
    ["another inquiry index", (a) => void (a.logProof!.inquiry!.leafIndex = String(Number(a.logProof!.inquiry!.leafIndex) - 1)), /^inquiry: /],
    ["another query's hash", (a) => void (a.logProof!.signedQueryHash = Buffer.from(sha256(Buffer.from("other")))), /^signed_query_hash: is not the hash of the query sent$/],
    ["a changed salt", (a) => void (a.logProof!.records[1]!.salt[0] ^= 1), /^records\[1\]: leaf \d+ is not in the checkpoint/],
    ["a changed canonical hash", (a) => void (a.logProof!.records[0]!.canonicalHash[31] ^= 1), /^records\[0\]: leaf \d+ is not in the checkpoint/],
    ["a short canonical hash", (a) => void (a.logProof!.records[0]!.canonicalHash = a.logProof!.records[0]!.canonicalHash.subarray(0, 31)), /^records\[0\]\.canonical_hash: must be 32 bytes$/],
    ["another version", (a) => void (a.logProof!.records[1]!.version = "2"), /^records\[1\]: /],
    ["record proofs swapped", (a) => void a.logProof!.records.reverse(), /^records\[0\]\.account_ref: is "acct-2", the tradeline's is "acct-1"$/],
    ["a record proof missing", (a) => void a.logProof!.records.pop(), /^records: 1 record proofs for 2 tradelines$/],
    ["a tradeline of another subject", (a) => void (a.subjectToken = "cd".repeat(32)), /^records\[0\]: /],
    ["a changed checkpoint root", (a) => void (a.logProof!.checkpoint = a.logProof!.checkpoint.replace(/\n([A-Za-z0-9+/]{10})/, (_m, p: string) => `\n${p.startsWith("A") ? "B" : "A"}${p.slice(1)}`)), /^checkpoint: /],
    ["a checkpoint of another log", (a) => void (a.holderInstitutionId = "bank-z"), /^checkpoint: /],
    ["no proof at all", (a) => void (a.logProof = undefined), /^the answer carries no log proof$/],
  ];
  for (const [what, tamper, problem] of tamperings) {
    it(`fail on ${what}`, async () => {
      const { answer, signedQuery } = await holderAnswer();
      tamper(answer);
      const result = check(answer, signedQuery);
      expect(result.proved).toBe(false);
      expect(result.problem).toMatch(problem);
    });
  }

  it("fail on every tampering just the same once a requester's cache verified the untouched answer", async () => {
    const { answer, signedQuery } = await holderAnswer();
    const checkpoints = new VerifiedCheckpoints();
    const cached = (a: HolderAnswer, publicKey = key.publicKey) =>
      checkAnswerProof(a, { publicKey, signedQueryHash: sha256(signedQuery), required: true, checkpoints });
    const copy = () => HolderAnswer.decode(HolderAnswer.encode(answer).finish());
    expect(cached(copy())).toMatchObject({ proved: true, recordsProved: 2 });
    expect(cached(copy())).toMatchObject({ proved: true, recordsProved: 2 });
    for (const [what, tamper, problem] of tamperings) {
      const a = copy();
      tamper(a);
      expect({ what, problem: cached(a).problem }).toEqual({ what, problem: expect.stringMatching(problem) });
    }
    // The note verified under this holder's key is no checkpoint of a holder with another key.
    expect(cached(copy(), generateNodeKey().publicKey).problem).toMatch(/^checkpoint: /);
    expect(cached(copy())).toMatchObject({ proved: true, recordsProved: 2 });
  });

  it("need no proof in a refusal, and refuse one there; an absent proof fails only when required", async () => {
    const { answer } = await holderAnswer();
    expect(check({ ...answer, status: HolderStatus.DENIED, tradelines: [], logProof: undefined }).problem).toBeUndefined();
    expect(check({ ...answer, status: HolderStatus.DENIED }).problem).toBe("a DENIED answer carries a log proof");
    const unproved = check({ ...answer, logProof: undefined }, undefined, false);
    expect(unproved.proved).toBe(false);
    expect(unproved.problem).toBeUndefined();
  });
});
