import { randomBytes } from "node:crypto";
import { CreditMeshError, invalid } from "../../errors.js";
import { DkgPlan, type SignedDkgPlan } from "../../gen/creditmesh/v1/dkg.js";
import type { TokenCommittee } from "../../gen/creditmesh/v1/oprf.js";
import { verifySignature } from "../../identity/node-key.js";
import type { Committee } from "./committee.js";
import type { DkgSession, Participant, Signer } from "./dkg.js";
import { MAX_PARTICIPANTS } from "./shamir.js";
import { SUITE_ID } from "./suite.js";

/**
 * The operator's order for one key ceremony (DkgPlan, signed with the
 * operator key), and what a participant or coordinator makes of it: the
 * dkg.ts session, with every participant's signing key taken from the
 * manifest, never from the plan.
 */

/** A ceremony that does not finish within this is abandoned by every participant. */
export const DEFAULT_CEREMONY_TTL_MS = 10 * 60_000;

export interface OpenedPlan {
  signed: SignedDkgPlan;
  plan: DkgPlan;
  epoch: number;
  session: DkgSession;
  /** Institution of each dealer and recipient index, and of each node key (hex): for naming culprits. */
  dealerIds: ReadonlyMap<number, string>;
  recipientIds: ReadonlyMap<number, string>;
  byKey: ReadonlyMap<string, string>;
}

export interface PlanContext {
  networkId: string;
  operatorKey: Uint8Array;
  /** The member's Ed25519 node key, undefined when it is not a member. */
  signingKeyOf(institutionId: string): Uint8Array | undefined;
  /** The committee the current manifest names (a plan must make a later epoch; a reshare must hand over this one). */
  committee: Committee | undefined;
  now: Date;
}

/** What the operator asks for: a fresh key for `members`, or a reshare from the current committee to them. */
export interface PlanRequest {
  networkId: string;
  members: readonly string[];
  threshold: number;
  /** Current committee (from the manifest being replaced); required for a reshare. */
  current?: TokenCommittee;
  reshare: boolean;
  /** A reshare's dealers (default: every current evaluator); at least the current threshold of them. */
  dealers?: readonly string[];
  now: Date;
  ttlMs?: number;
  /** The member that will run the ceremony (the node the plan is sent to): participants take its first step from no one else. */
  coordinator?: string;
}

/** Builds and checks the plan of a ceremony; the committee indices are 1..n in `members` order. */
export function buildPlan(r: PlanRequest): DkgPlan {
  if (r.members.length === 0 || new Set(r.members).size !== r.members.length || r.members.some((m) => m === "")) {
    throw invalid("members", "a list of distinct institution ids");
  }
  if (r.members.length > MAX_PARTICIPANTS) throw invalid("members", `at most ${MAX_PARTICIPANTS}`);
  if (!Number.isInteger(r.threshold) || r.threshold < 1 || r.threshold > r.members.length) {
    throw invalid("threshold", `must be an integer from 1 to ${r.members.length}`);
  }
  if (r.reshare && !r.current) throw invalid("manifest", "names no token committee to reshare: run `tokens keygen` first");
  if (r.dealers && !r.reshare) throw invalid("dealers", "only a reshare names its dealers: a fresh key is dealt by its members");
  const evaluators = r.current?.evaluators ?? [];
  const dealers = r.reshare ? (r.dealers ?? evaluators.map((e) => e.institutionId)) : [];
  dealers.forEach((d, i) => {
    if (!evaluators.some((e) => e.institutionId === d)) throw invalid(`dealers[${i}]`, `${d} is not in the current committee`);
  });
  if (r.reshare && (new Set(dealers).size !== dealers.length || dealers.length < r.current!.threshold)) {
    throw invalid("dealers", `at least ${r.current!.threshold} distinct members of the current committee`);
  }
  const epoch = BigInt(r.current?.epoch ?? "0") + 1n;
  const recipients = r.members.map((institutionId, k) => ({ institutionId, index: k + 1 }));
  return {
    networkId: r.networkId,
    sessionId: `${r.networkId}/tokens/${epoch}/${randomBytes(8).toString("hex")}`,
    epoch: epoch.toString(),
    threshold: r.threshold,
    dealers: r.reshare ? evaluators.filter((e) => dealers.includes(e.institutionId)).map((e) => ({ institutionId: e.institutionId, index: e.index })) : recipients,
    recipients,
    reshareOf: r.reshare ? r.current : undefined,
    notAfter: new Date(r.now.getTime() + (r.ttlMs ?? DEFAULT_CEREMONY_TTL_MS)),
    coordinatorInstitutionId: r.coordinator ?? "",
  };
}

export function signPlan(plan: DkgPlan, operator: Signer): SignedDkgPlan {
  const body = Buffer.from(DkgPlan.encode(plan).finish());
  return { body, signature: Buffer.from(operator.sign(body)) };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * Opens a plan: the operator's signature (SIGNATURE_INVALID), this network,
 * still valid, a later epoch than the manifest's committee, a reshare of
 * exactly that committee, every participant a member (VALIDATION_FAILED
 * naming the field).
 */
export function openPlan(signed: SignedDkgPlan | undefined, ctx: PlanContext): OpenedPlan {
  if (!signed) throw invalid("plan", "required");
  if (!verifySignature(ctx.operatorKey, signed.body, signed.signature)) {
    throw new CreditMeshError("SIGNATURE_INVALID", "plan: not signed by the network operator", { field: "plan.signature" });
  }
  let plan: DkgPlan;
  try {
    plan = DkgPlan.decode(signed.body);
  } catch (cause) {
    throw new CreditMeshError("VALIDATION_FAILED", "plan.body: does not decode", { field: "plan.body", cause });
  }
  if (plan.networkId !== ctx.networkId) throw invalid("plan.network_id", `is not this network (${ctx.networkId})`);
  if (plan.sessionId === "") throw invalid("plan.session_id", "required");
  if (!plan.notAfter || plan.notAfter.getTime() < ctx.now.getTime()) throw invalid("plan.not_after", "the plan has expired");
  const epoch = Number(plan.epoch);
  const currentEpoch = ctx.committee?.epoch ?? 0;
  if (!Number.isSafeInteger(epoch) || epoch <= currentEpoch) {
    throw invalid("plan.epoch", `must be above the current committee's epoch ${currentEpoch}`);
  }
  if (plan.coordinatorInstitutionId !== "" && !ctx.signingKeyOf(plan.coordinatorInstitutionId)) {
    throw invalid("plan.coordinator_institution_id", `${plan.coordinatorInstitutionId} is not a member`);
  }
  const byKey = new Map<string, string>();
  const participants = (list: readonly { institutionId: string; index: number }[], field: string): { ps: Participant[]; ids: Map<number, string> } => {
    const ids = new Map<number, string>();
    const ps = list.map((p, i) => {
      const key = ctx.signingKeyOf(p.institutionId);
      if (!key) throw invalid(`plan.${field}[${i}].institution_id`, `${p.institutionId} is not a member`);
      if ([...ids.values()].includes(p.institutionId)) throw invalid(`plan.${field}[${i}].institution_id`, "appears twice");
      ids.set(p.index, p.institutionId);
      byKey.set(hex(key), p.institutionId);
      return { index: p.index, signingKey: key };
    });
    return { ps, ids };
  };
  const dealers = participants(plan.dealers, "dealers");
  const recipients = participants(plan.recipients, "recipients");
  let reshare: DkgSession["reshare"];
  if (plan.reshareOf) {
    const r = plan.reshareOf;
    const c = ctx.committee;
    if (!c || r.epoch !== String(c.epoch) || hex(r.publicKey) !== c.keyId || r.threshold !== c.threshold) {
      throw invalid("plan.reshare_of", "is not the committee the current manifest names");
    }
    if (r.suite !== SUITE_ID) throw invalid("plan.reshare_of.suite", `must be ${SUITE_ID}`);
    const publicShares: Record<number, string> = {};
    for (const m of c.members) publicShares[m.index] = hex(m.publicShare);
    plan.dealers.forEach((d, i) => {
      const m = c.members.find((x) => x.institutionId === d.institutionId);
      if (!m || m.index !== d.index) throw invalid(`plan.dealers[${i}]`, "is not a member of the current committee at its index");
    });
    reshare = { threshold: c.threshold, publicKey: c.keyId, publicShares };
  } else {
    const same = plan.dealers.length === plan.recipients.length &&
      plan.dealers.every((d, i) => d.institutionId === plan.recipients[i].institutionId && d.index === plan.recipients[i].index);
    if (!same) throw invalid("plan.dealers", "a fresh key is dealt by its recipients");
  }
  const session: DkgSession = { id: plan.sessionId, threshold: plan.threshold, dealers: dealers.ps, recipients: recipients.ps, reshare };
  try {
    // dkg.ts checks indices and the threshold; its RangeErrors become a field error here.
    checkSessionShape(session);
  } catch (err) {
    if (err instanceof CreditMeshError) throw err;
    throw invalid("plan", (err as Error).message);
  }
  return { signed, plan, epoch, session, dealerIds: dealers.ids, recipientIds: recipients.ids, byKey };
}

function checkSessionShape(session: DkgSession): void {
  if (session.recipients.length < session.threshold) throw invalid("plan.threshold", `exceeds the ${session.recipients.length} recipients`);
  for (const list of [session.dealers, session.recipients]) {
    for (const p of list) {
      if (!Number.isInteger(p.index) || p.index < 1 || p.index > MAX_PARTICIPANTS) throw invalid("plan", `index ${p.index} is not from 1 to ${MAX_PARTICIPANTS}`);
    }
    if (new Set(list.map((p) => p.index)).size !== list.length) throw invalid("plan", "indices repeat");
  }
  if (session.threshold < 1) throw invalid("plan.threshold", "must be at least 1");
  if (session.reshare && session.dealers.length < session.reshare.threshold) {
    throw invalid("plan.dealers", `a reshare needs at least ${session.reshare.threshold} old members dealing`);
  }
}

/** Every institution taking part, dealers first, each once. */
export function planParticipants(plan: DkgPlan): string[] {
  return [...new Set([...plan.dealers, ...plan.recipients].map((p) => p.institutionId))];
}
