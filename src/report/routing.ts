import { BinaryFuse16, type TokenDigest } from "../filters/binary-fuse.js";
import type { Announcement, Delta, FullFilter } from "../filters/types.js";

/**
 * Which members a report asks about a subject token, from the filters they
 * publish. A member is skipped only when everything it published for its
 * current epoch is at hand, recent, and denies the token; in every other
 * case it is asked (fail open): a stale or missing filter costs a query,
 * never a tradeline.
 */

/** What a requester holds about one member's filters, each piece already verified. */
export interface MemberFilterState {
  /** The latest announcement verified from this member. */
  announcement?: Announcement;
  /** The full filter fetched for some epoch (its bytes matched that epoch's announcement). */
  full?: FullFilter;
  /** Deltas verified from this member; those of other epochs are ignored. */
  deltas?: readonly Delta[];
  /** When this node last accepted an announcement or delta from the member (its own clock). */
  lastHeardAt?: Date;
}

/** Why a member is asked although it has a filter, or has none. */
export const FAIL_OPEN_REASONS = [
  "NO_ANNOUNCEMENT", // never heard of its filter (withheld, not yet gossiped, older software)
  "NO_FILTER", // announced, not fetched yet
  "FILTER_OUTDATED", // the fetched filter is of an earlier epoch than the announced one
  "ANNOUNCEMENT_OUTDATED", // a filter of a later epoch than the announcement at hand
  "DELTA_GAP", // a delta interval of the epoch is covered by no delta at hand
  "SILENT", // nothing heard for longer than a holder's delta interval allows
] as const;
export type FailOpenReason = (typeof FAIL_OPEN_REASONS)[number];

export type AskReason = "FILTER_MATCH" | "PROBE" | FailOpenReason;

/** A member's filters reduced to what a query needs; compute once per change, use for every token. */
export interface MemberFilterView {
  institutionId: string;
  epoch?: number;
  /** Set when the filters cannot rule the member out. */
  failOpen?: FailOpenReason;
  /** The full filter and the fewest deltas that cover the epoch's intervals. */
  filters: readonly BinaryFuse16[];
  /** Highest delta interval known for the epoch. */
  deltaHead: number;
  lastHeardAt?: Date;
}

export function memberFilterView(institutionId: string, state: MemberFilterState | undefined): MemberFilterView {
  const base = { institutionId, filters: [], deltaHead: 0, lastHeardAt: state?.lastHeardAt };
  const announcement = state?.announcement;
  if (announcement === undefined) return { ...base, failOpen: "NO_ANNOUNCEMENT" };
  const epoch = announcement.epoch;
  const full = state?.full;
  if (full === undefined) return { ...base, epoch, failOpen: "NO_FILTER" };
  if (full.epoch < epoch) return { ...base, epoch, failOpen: "FILTER_OUTDATED" };
  if (full.epoch > epoch) return { ...base, epoch, failOpen: "ANNOUNCEMENT_OUTDATED" };
  const deltas = (state?.deltas ?? []).filter((d) => d.epoch === epoch);
  const deltaHead = deltas.reduce((head, d) => Math.max(head, d.sequence), announcement.deltaSequence);
  const cover = coverIntervals(deltas, deltaHead);
  if (cover === undefined) return { ...base, epoch, deltaHead, failOpen: "DELTA_GAP" };
  return { ...base, epoch, deltaHead, filters: [full.filter, ...cover.map((d) => d.filter)] };
}

/**
 * The fewest deltas whose intervals together cover 1..head, or undefined if
 * some interval is in none. From the top down, each step takes the delta that
 * covers the current interval and reaches furthest back.
 */
function coverIntervals(deltas: readonly Delta[], head: number): Delta[] | undefined {
  const chosen: Delta[] = [];
  let current = head;
  while (current >= 1) {
    let best: Delta | undefined;
    for (const d of deltas) {
      if (d.firstSequence <= current && current <= d.sequence && (best === undefined || d.firstSequence < best.firstSequence)) {
        best = d;
      }
    }
    if (best === undefined) return undefined;
    chosen.push(best);
    current = best.firstSequence - 1;
  }
  return chosen;
}

export interface AskDecision {
  institutionId: string;
  reason: AskReason;
  /** The member's announced epoch, when there is one. */
  epoch?: number;
}

export interface SkipDecision {
  institutionId: string;
  /** The filter epoch that excluded the subject; none for a member skipped for having no usable filter. */
  epoch?: number;
  /** For the report's HolderOutcome.reason: names the filter epoch that excludes the subject. */
  reason: string;
}

export interface Route {
  ask: AskDecision[];
  skipped: SkipDecision[];
}

export interface RouteOptions {
  now: Date;
  /**
   * Longest time without an announcement or delta from a member before its
   * filters stop counting (holders issue a delta every interval, so a few
   * intervals of silence mean deltas are being missed).
   */
  maxSilenceMs: number;
  /**
   * Asks a member its filters rule out anyway, to check that its filter
   * matches what it answers (FilterConsistency); default never.
   */
  probe?: (institutionId: string) => boolean;
}

/** Why a member's filters cannot rule it out now, or undefined when they can. */
export function failOpenReason(view: MemberFilterView, opts: Pick<RouteOptions, "now" | "maxSilenceMs">): FailOpenReason | undefined {
  if (view.failOpen !== undefined) return view.failOpen;
  if (view.epoch === undefined) return "NO_ANNOUNCEMENT";
  if (view.lastHeardAt === undefined || opts.now.getTime() - view.lastHeardAt.getTime() > opts.maxSilenceMs) return "SILENT";
  return undefined;
}

/** Splits `members` (this node excluded by the caller) into those to ask about `token` and those skipped. */
export function routeToken(
  token: string | Uint8Array | TokenDigest,
  members: readonly string[],
  viewOf: (institutionId: string) => MemberFilterView | undefined,
  opts: RouteOptions,
): Route {
  const digest = token instanceof Uint32Array ? token : BinaryFuse16.digest(token);
  const route: Route = { ask: [], skipped: [] };
  for (const institutionId of members) {
    const view = viewOf(institutionId) ?? memberFilterView(institutionId, undefined);
    const epoch = view.epoch;
    const failOpen = failOpenReason(view, opts);
    if (failOpen !== undefined) {
      route.ask.push({ institutionId, reason: failOpen, epoch });
      continue;
    }
    if (view.filters.some((f) => f.hasDigest(digest))) {
      route.ask.push({ institutionId, reason: "FILTER_MATCH", epoch });
      continue;
    }
    if (opts.probe?.(institutionId) === true) {
      route.ask.push({ institutionId, reason: "PROBE", epoch });
      continue;
    }
    route.skipped.push({ institutionId, epoch, reason: `not in filter epoch ${epoch} (deltas through ${view.deltaHead})` });
  }
  return route;
}
