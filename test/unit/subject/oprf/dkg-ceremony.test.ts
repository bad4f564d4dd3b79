import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isCreditMeshError } from "../../../../src/errors.js";
import { DkgAnswer, DkgRequest, DkgStep, type SignedDkgPlan } from "../../../../src/gen/creditmesh/v1/dkg.js";
import type { TokenCommittee } from "../../../../src/gen/creditmesh/v1/oprf.js";
import { generateNodeKey, type NodeKey } from "../../../../src/identity/node-key.js";
import { silentLogger } from "../../../../src/logger.js";
import { Committee } from "../../../../src/subject/oprf/committee.js";
import { dealRound1, signShare } from "../../../../src/subject/oprf/dkg.js";
import { runCeremony, type CeremonyPeers, type CeremonyStep } from "../../../../src/subject/oprf/dkg-coordinator.js";
import { CeremonyParticipant, type StoredShare } from "../../../../src/subject/oprf/dkg-participant.js";
import { buildPlan, openPlan, signPlan } from "../../../../src/subject/oprf/dkg-plan.js";
import { committeeFromWire } from "../../../../src/subject/oprf/wire.js";
import { BlindedBatch, publicShare, publicShareOf, ShareEvaluator, type KeyShare, type VerifiedPartial } from "../../../../src/subject/oprf/threshold.js";

const NETWORK = "net-dkg";
const operator = generateNodeKey();
const ids = ["bank-a", "bank-b", "bank-c", "bank-d", "bank-e"];
const keys = new Map<string, NodeKey>(ids.map((id) => [id, generateNodeKey()]));
const now = () => new Date();
const inputs = ["cn-resident-id/v1:11010519491231002X", "cn-mobile/v1:13800138000"].map((s) => new TextEncoder().encode(s));

/** Rewrites what the coordinator sends to, or receives from, one participant (a hostile relay or dealer). */
type Tamper = (to: string, request: DkgRequest, answer?: DkgAnswer) => void;

/** Five members, each with its own participant and vault, reached through the wire encoding as over p2p. */
class World {
  committee: Committee | undefined;
  readonly vaults = new Map<string, StoredShare[]>(ids.map((id) => [id, []]));
  readonly participants = new Map<string, CeremonyParticipant>();

  constructor() {
    for (const id of ids) {
      const key = keys.get(id)!;
      this.participants.set(id, new CeremonyParticipant({
        institutionId: id,
        signer: key,
        context: () => this.context(),
        currentShare: () => this.shareOf(id, this.committee?.epoch),
        vault: { put: async (e) => void this.vaults.get(id)!.push(e) },
        now,
        logger: silentLogger(),
      }));
    }
  }

  context() {
    return { networkId: NETWORK, operatorKey: operator.publicKey, signingKeyOf: (id: string) => keys.get(id)?.publicKey, committee: this.committee };
  }

  shareOf(id: string, epoch: number | undefined): KeyShare | undefined {
    return this.vaults.get(id)!.find((e) => e.epoch === epoch)?.share;
  }

  /** The participants as `coordinator` reaches them; each is told the sender, as the transport authenticates it. */
  peers(plan: SignedDkgPlan, tamper?: Tamper, coordinator = "bank-a"): CeremonyPeers {
    return {
      send: async (to: string, step: CeremonyStep) => {
        const request: DkgRequest = {
          requestId: randomBytes(8).toString("hex"), coordinatorInstitutionId: coordinator, issuedAt: now(), nonce: randomBytes(16), plan,
          step: step.step, round1: step.round1, echoes: step.echoes ?? [], shares: step.shares ?? [], complaints: step.complaints ?? [],
        };
        tamper?.(to, request);
        const received = DkgRequest.decode(DkgRequest.encode(request).finish());
        const answer = DkgAnswer.decode(DkgAnswer.encode(await this.participants.get(to)!.handle(received, coordinator)).finish());
        tamper?.(to, request, answer);
        return answer;
      },
    };
  }

  async run(members: string[], threshold: number, opts: { reshare?: boolean; dealers?: string[]; tamper?: Tamper } = {}): Promise<TokenCommittee> {
    const current = this.committee && committeeToWire(this.committee);
    const signed = signPlan(buildPlan({ networkId: NETWORK, members, threshold, current, reshare: opts.reshare ?? false, dealers: opts.dealers, now: now() }), operator);
    const opened = openPlan(signed, { ...this.context(), now: now() });
    return runCeremony(opened, this.peers(signed, opts.tamper), AbortSignal.timeout(60_000));
  }

  stored(): number {
    return [...this.vaults.values()].reduce((n, v) => n + v.length, 0);
  }

  open(): number {
    return [...this.participants.values()].reduce((n, p) => n + p.open, 0);
  }
}

function committeeToWire(c: Committee): TokenCommittee {
  return {
    suite: "ristretto255-SHA512", epoch: String(c.epoch), threshold: c.threshold, publicKey: Buffer.from(c.keyId, "hex"),
    evaluators: c.members.map((m) => ({ institutionId: m.institutionId, index: m.index, publicShare: Buffer.from(m.publicShare) })),
  };
}

/** Tokens from `shares` (the first t of them), every partial proof checked against the committee's public shares. */
function tokens(committee: Committee, shares: readonly KeyShare[]): string[] {
  const batch = BlindedBatch.create(inputs);
  const partials = shares.slice(0, committee.threshold).map((s) => {
    const m = committee.members.find((x) => x.index === s.index)!;
    const v = batch.verify(new ShareEvaluator(s).evaluate(batch.blinded), publicShare(s.index, m.publicShare));
    if (typeof v === "string") throw new Error(`share ${s.index}: ${v}`);
    return v as VerifiedPartial;
  });
  return batch.combine(partials, committee.threshold).map((t) => Buffer.from(t).toString("hex"));
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error("the ceremony was expected to fail");
}

describe("a key ceremony between members, 2 of 3, then a reshare to 3 of 5", () => {
  const world = new World();
  let first: Committee;
  let firstShares: KeyShare[];

  it("makes a committee whose public shares fit one key, each share stored only at its member", async () => {
    first = committeeFromWire(await world.run(["bank-a", "bank-b", "bank-c"], 2));
    expect(first.epoch).toBe(1);
    firstShares = ["bank-a", "bank-b", "bank-c"].map((id) => world.shareOf(id, 1)!);
    firstShares.forEach((s, k) => expect(Buffer.from(publicShareOf(s).bytes)).toEqual(Buffer.from(first.members[k].publicShare)));
    expect(world.shareOf("bank-d", 1)).toBeUndefined();
    expect(world.open()).toBe(0);
    // Any two evaluators give the same tokens.
    expect(tokens(first, [firstShares[2], firstShares[0]])).toEqual(tokens(first, firstShares.slice(0, 2)));
    world.committee = first;
  });

  it("reshares (2,3) -> (3,5): same group key, identical tokens, old shares fail against the new public shares", async () => {
    const before = tokens(first, firstShares);
    const next = committeeFromWire(await world.run(["bank-d", "bank-b", "bank-e", "bank-a", "bank-c"], 3, { reshare: true }));
    expect(next.epoch).toBe(2);
    world.committee = next;
    expect(next.keyId).toBe(first.keyId);
    expect(next.threshold).toBe(3);
    const nextShares = ["bank-d", "bank-b", "bank-e", "bank-a", "bank-c"].map((id) => world.shareOf(id, 2)!);
    expect(tokens(next, nextShares)).toEqual(before);
    expect(tokens(next, [nextShares[4], nextShares[1], nextShares[3]])).toEqual(before);
    // bank-a held index 1 before; at index 1 now sits bank-d, whose public share no old share matches.
    const batch = BlindedBatch.create(inputs);
    expect(batch.verify(new ShareEvaluator(firstShares[0]).evaluate(batch.blinded), publicShare(1, next.members[0].publicShare))).toBe("BAD_PROOF");
  });

  it("reshares again with only t of the old members dealing (one is down), still the same tokens", async () => {
    const before = tokens(first, firstShares);
    const current = world.committee!;
    expect(() => buildPlan({ networkId: NETWORK, members: ["bank-a", "bank-b"], threshold: 2, current: committeeToWire(current), reshare: true, dealers: ["bank-d", "bank-z"], now: now() }))
      .toThrow(expect.objectContaining({ field: "dealers[1]" }));
    expect(() => buildPlan({ networkId: NETWORK, members: ["bank-a", "bank-b"], threshold: 2, current: committeeToWire(current), reshare: true, dealers: ["bank-d", "bank-b"], now: now() }))
      .toThrow(expect.objectContaining({ field: "dealers" }));
    const third = committeeFromWire(await world.run(["bank-a", "bank-b"], 2, { reshare: true, dealers: ["bank-e", "bank-b", "bank-c"] }));
    expect(third.epoch).toBe(current.epoch + 1);
    expect(tokens(third, ["bank-a", "bank-b"].map((id) => world.shareOf(id, third.epoch)!))).toEqual(before);
  });
});

describe("a ceremony that must fail names the culprit and stores nothing", () => {
  it("a round-1 set relayed differently to one member (an equivocating dealer) is caught by the echo check", async () => {
    const world = new World();
    const err = await failure(world.run(["bank-a", "bank-b", "bank-c"], 2, {
      tamper: (to, request, answer) => {
        if (answer || request.step !== DkgStep.DKG_STEP_ECHO || to !== "bank-c") return;
        // bank-a shows bank-c a second, validly signed commitment.
        const opened = openPlan(request.plan, { ...world.context(), now: now() });
        const other = dealRound1(opened.session, 1, keys.get("bank-a")!).message;
        request.round1 = { ...request.round1!, commitments: request.round1!.commitments.map((c) => (c.dealer === 1 ? other : c)) };
      },
    }));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toMatch(/step DKG_STEP_DEAL/);
    expect(err.message).toMatch(/not broadcast consistently: members bank-c saw another set/);
    expect(world.stored()).toBe(0);
    expect(world.open()).toBe(0);
  });

  it("a dealer's share that does not decrypt draws a complaint, and the dealer is named", async () => {
    const world = new World();
    const err = await failure(world.run(["bank-a", "bank-b", "bank-c"], 2, {
      tamper: (to, request, answer) => {
        if (!answer || request.step !== DkgStep.DKG_STEP_DEAL || to !== "bank-b") return;
        answer.shares = answer.shares.map((s) => {
          if (s.recipient !== 3) return s;
          const cipher = Buffer.from(s.ciphertext, "hex");
          cipher[0] ^= 1;
          const { signature: _old, ...body } = s;
          return signShare({ ...body, ciphertext: cipher.toString("hex") }, keys.get("bank-b")!);
        });
      },
    }));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toMatch(/dealer bank-b \(index 2\): the share does not decrypt/);
    expect(world.stored()).toBe(0);
    expect(world.open()).toBe(0);
  });

  it("a share dropped by the relay is complained about, and its dealer is named (it must publish it to clear itself)", async () => {
    const world = new World();
    const err = await failure(world.run(["bank-a", "bank-b", "bank-c"], 2, {
      tamper: (to, request) => {
        if (request.step === DkgStep.DKG_STEP_RECEIVE && to === "bank-a") request.shares = request.shares.filter((s) => s.dealer !== 3);
      },
    }));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toMatch(/dealer bank-c \(index 3\): delivered no share/);
    expect(world.stored()).toBe(0);
  });

  it("a member that does not answer fails the ceremony as UNAVAILABLE naming it, and the others forget it at once", async () => {
    const world = new World();
    const signed = signPlan(buildPlan({ networkId: NETWORK, members: ["bank-a", "bank-b", "bank-c"], threshold: 2, reshare: false, now: now() }), operator);
    const peers = world.peers(signed);
    const down: CeremonyPeers = {
      send: (to, step, signal) => (to === "bank-c" ? Promise.reject(new Error("no route to bank-c")) : peers.send(to, step, signal)),
    };
    const err = await failure(runCeremony(openPlan(signed, { ...world.context(), now: now() }), down, AbortSignal.timeout(60_000)));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toMatch(/step DKG_STEP_ROUND1: bank-c: no route to bank-c/);
    expect(world.open()).toBe(0);
    expect(world.stored()).toBe(0);
  });

  it("a coordinator that hides a member's complaint from the others does not make that member accept", async () => {
    const world = new World();
    const err = await failure(world.run(["bank-a", "bank-b", "bank-c"], 2, {
      tamper: (to, request, answer) => {
        if (request.step === DkgStep.DKG_STEP_RECEIVE && to === "bank-a" && !answer) request.shares = request.shares.filter((s) => s.dealer !== 2);
        // The relay then drops every complaint before the last step.
        if (request.step === DkgStep.DKG_STEP_FINISH && !answer) request.complaints = [];
      },
    }));
    expect(err.code).toBe("CONFLICT");
    expect(world.shareOf("bank-a", 1)).toBeUndefined();
  });
});

describe("a ceremony answers only the member that started it", () => {
  const plan = () => signPlan(buildPlan({ networkId: NETWORK, members: ["bank-a", "bank-b", "bank-c"], threshold: 2, reshare: false, now: now() }), operator);

  it("another participant's ABORT or step is refused and the ceremony stays open; its coordinator then finishes it", async () => {
    const world = new World();
    const signed = plan();
    const byA = world.peers(signed);
    const byB = world.peers(signed, undefined, "bank-b");
    const refusals: unknown[] = [];
    let openAfter: number[] = [];
    let tried = false;
    // Once every participant has answered bank-a's ROUND1, bank-b (which holds the plan) tries to end or steer it.
    const peers: CeremonyPeers = {
      send: async (to, step, signal) => {
        if (step.step === DkgStep.DKG_STEP_ECHO && !tried) {
          tried = true;
          for (const victim of ["bank-a", "bank-c"]) {
            refusals.push(await failure(byB.send(victim, { step: DkgStep.DKG_STEP_ABORT }, signal)));
            refusals.push(await failure(byB.send(victim, { step: DkgStep.DKG_STEP_ECHO, round1: { commitments: [], recipientKeys: [] } }, signal)));
          }
          openAfter = ["bank-a", "bank-c"].map((id) => world.participants.get(id)!.open);
        }
        return byA.send(to, step, signal);
      },
    };
    const committee = await runCeremony(openPlan(signed, { ...world.context(), now: now() }), peers, AbortSignal.timeout(60_000));
    expect(refusals).toHaveLength(4);
    for (const r of refusals) expect(r).toMatchObject({ code: "MEMBERSHIP_DENIED", field: "coordinator_institution_id" });
    expect(openAfter).toEqual([1, 1]);
    expect(committee.evaluators.map((e) => e.institutionId)).toEqual(["bank-a", "bank-b", "bank-c"]);
    expect(world.stored()).toBe(3);
    expect(world.open()).toBe(0);
  });

  it("a participant that sends ROUND1 before the coordinator is named in the coordinator's failure", async () => {
    const world = new World();
    const signed = plan();
    await world.peers(signed, undefined, "bank-b").send("bank-c", { step: DkgStep.DKG_STEP_ROUND1 }, AbortSignal.timeout(5_000));
    const err = await failure(runCeremony(openPlan(signed, { ...world.context(), now: now() }), world.peers(signed), AbortSignal.timeout(60_000)));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toMatch(/bank-c: ceremony \S+ already started here by bank-b/);
    expect(world.stored()).toBe(0);
  });

  it("a plan that names its coordinator cannot be opened by another member first: the raced ROUND1 is refused and the ceremony runs", async () => {
    const world = new World();
    const signed = signPlan(buildPlan({ networkId: NETWORK, members: ["bank-a", "bank-b", "bank-c"], threshold: 2, reshare: false, now: now(), coordinator: "bank-a" }), operator);
    const raced = await failure(world.peers(signed, undefined, "bank-b").send("bank-c", { step: DkgStep.DKG_STEP_ROUND1 }, AbortSignal.timeout(5_000)));
    expect(raced).toMatchObject({ code: "MEMBERSHIP_DENIED", field: "coordinator_institution_id" });
    expect(raced.message).toMatch(/names bank-a, not bank-b/);
    expect(world.open()).toBe(0);
    const committee = await runCeremony(openPlan(signed, { ...world.context(), now: now() }), world.peers(signed), AbortSignal.timeout(60_000));
    expect(committee.evaluators.map((e) => e.institutionId)).toEqual(["bank-a", "bank-b", "bank-c"]);
    expect(world.stored()).toBe(3);
  });
});

describe("plans", () => {
  const world = new World();

  it("a plan not signed by the operator is refused before anything is made", async () => {
    const plan = buildPlan({ networkId: NETWORK, members: ["bank-a", "bank-b"], threshold: 2, reshare: false, now: now() });
    const forged = signPlan(plan, keys.get("bank-a")!);
    const refused = await failure(world.participants.get("bank-b")!.handle({
      requestId: "r", coordinatorInstitutionId: "bank-a", issuedAt: now(), nonce: randomBytes(16), plan: forged, step: DkgStep.DKG_STEP_ROUND1,
      round1: undefined, echoes: [], shares: [], complaints: [],
    }, "bank-a"));
    expect(refused.code).toBe("SIGNATURE_INVALID");
    expect(world.open()).toBe(0);
  });

  it("a plan starts one ceremony: replayed after it ended, it is refused", async () => {
    const plan = signPlan(buildPlan({ networkId: NETWORK, members: ["bank-a", "bank-b"], threshold: 2, reshare: false, now: now() }), operator);
    await runCeremony(openPlan(plan, { ...world.context(), now: now() }), world.peers(plan), AbortSignal.timeout(60_000));
    expect(world.stored()).toBe(2);
    const again = await failure(runCeremony(openPlan(plan, { ...world.context(), now: now() }), world.peers(plan), AbortSignal.timeout(60_000)));
    expect(again.code).toBe("CONFLICT");
    expect(again.message).toMatch(/already started here/);
    expect(world.stored()).toBe(2);
  });

  it("bad requests name their field: threshold, members, a non-member, a coordinator not a member, an epoch not above the current one", () => {
    const ask = (members: string[], threshold: number) => buildPlan({ networkId: NETWORK, members, threshold, reshare: false, now: now() });
    expect(() => ask(["bank-a", "bank-b"], 3)).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED", field: "threshold" }));
    expect(() => ask(["bank-a", "bank-a"], 1)).toThrow(expect.objectContaining({ field: "members" }));
    expect(() => buildPlan({ networkId: NETWORK, members: ["bank-a"], threshold: 1, reshare: true, now: now() })).toThrow(expect.objectContaining({ field: "manifest" }));
    const strangerRuns = signPlan(buildPlan({ networkId: NETWORK, members: ["bank-a", "bank-b"], threshold: 2, reshare: false, now: now(), coordinator: "bank-z" }), operator);
    expect(() => openPlan(strangerRuns, { ...world.context(), now: now() })).toThrow(expect.objectContaining({ field: "plan.coordinator_institution_id" }));
    const stranger = signPlan(ask(["bank-a", "bank-z"], 2), operator);
    expect(() => openPlan(stranger, { ...world.context(), now: now() })).toThrow(expect.objectContaining({ field: "plan.dealers[1].institution_id" }));
    const stale = signPlan({ ...ask(["bank-a", "bank-b"], 2), epoch: "1" }, operator);
    const committee = { epoch: 1 } as Committee;
    try {
      openPlan(stale, { ...world.context(), committee, now: now() });
      expect.unreachable();
    } catch (err) {
      expect(isCreditMeshError(err, "VALIDATION_FAILED")).toBe(true);
      expect((err as { field: string }).field).toBe("plan.epoch");
    }
  });
});
