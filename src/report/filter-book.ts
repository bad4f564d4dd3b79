import type { Clock } from "../clock.js";
import type { Announcement, Delta, FullFilter } from "../filters/types.js";
import { memberFilterView, type MemberFilterState, type MemberFilterView } from "./routing.js";

/** More deltas than a day of 30-second intervals: beyond this the oldest go (a gap, so the member is asked). */
const MAX_DELTAS_PER_MEMBER = 4096;

/**
 * The requester's record of every member's verified filter messages, in
 * memory, with each member's view kept ready for routing. Accepts only
 * verified input (filters/announcement.ts); keeps the newest epoch and drops
 * what an older one left behind. Silence is measured on this node's own
 * clock, so a member whose clock is off cannot stretch how long its filters
 * count; the member's signed times only order its messages.
 */
export class FilterBook {
  private readonly states = new Map<string, MemberFilterState & { deltas: Delta[] }>();
  private readonly views = new Map<string, MemberFilterView>();

  constructor(private readonly modules: { clock: Clock }) {}

  private stateOf(institutionId: string): MemberFilterState & { deltas: Delta[] } {
    let state = this.states.get(institutionId);
    if (state === undefined) {
      state = { deltas: [] };
      this.states.set(institutionId, state);
    }
    return state;
  }

  /** Member-signed times already seen, per member: only a later one counts as hearing from it. */
  private readonly latestIssued = new Map<string, number>();

  /**
   * Counts as hearing from the member only a message it signed later than
   * any before: anyone can replay an old signed announcement on gossip, and
   * a replay must not make a silent member's filters look current.
   */
  private changed(institutionId: string, state: MemberFilterState & { deltas: Delta[] }, issuedAt?: Date): void {
    if (issuedAt !== undefined && issuedAt.getTime() > (this.latestIssued.get(institutionId) ?? -Infinity)) {
      this.latestIssued.set(institutionId, issuedAt.getTime());
      state.lastHeardAt = this.modules.clock.now();
    }
    this.views.delete(institutionId);
  }

  /** Keeps the announcement unless one of a later epoch (or later delta) is already held; true if kept. */
  announce(a: Announcement): boolean {
    const state = this.stateOf(a.institutionId);
    const current = state.announcement;
    if (current !== undefined && (a.epoch < current.epoch || (a.epoch === current.epoch && a.deltaSequence < current.deltaSequence))) {
      return false;
    }
    state.announcement = a;
    state.deltas = state.deltas.filter((d) => d.epoch >= a.epoch);
    this.changed(a.institutionId, state, a.issuedAt);
    return true;
  }

  /** True when the member's announced full filter is not at hand: fetch it. */
  needsFilter(institutionId: string): boolean {
    const state = this.states.get(institutionId);
    return state?.announcement !== undefined && state.full?.epoch !== state.announcement.epoch;
  }

  /** Epochs and delta position a fetch should ask for; undefined when nothing is announced. */
  fetchPosition(institutionId: string): { epoch: number; includeFilter: boolean; deltasAfter: number } | undefined {
    const state = this.states.get(institutionId);
    const a = state?.announcement;
    if (state === undefined || a === undefined) return undefined;
    const view = this.view(institutionId);
    const includeFilter = state.full?.epoch !== a.epoch;
    // After a gap, ask again from the start of the epoch: the member's merged deltas make that short.
    const deltasAfter = includeFilter || view.failOpen === "DELTA_GAP" ? 0 : view.deltaHead;
    return { epoch: a.epoch, includeFilter, deltasAfter };
  }

  setFull(f: FullFilter): void {
    const state = this.stateOf(f.institutionId);
    if (state.full !== undefined && state.full.epoch > f.epoch) return;
    state.full = f;
    this.changed(f.institutionId, state);
  }

  addDelta(d: Delta): void {
    const state = this.stateOf(d.institutionId);
    if (state.announcement !== undefined && d.epoch < state.announcement.epoch) return;
    const same = state.deltas.some((x) => x.epoch === d.epoch && x.sequence === d.sequence && x.firstSequence === d.firstSequence);
    if (!same) {
      state.deltas.push(d);
      if (state.deltas.length > MAX_DELTAS_PER_MEMBER) {
        state.deltas.sort((x, y) => x.epoch - y.epoch || x.sequence - y.sequence);
        state.deltas.splice(0, state.deltas.length - MAX_DELTAS_PER_MEMBER);
      }
    }
    this.changed(d.institutionId, state, d.issuedAt);
  }

  /** A member left the network (manifest): forget what it published. */
  forget(institutionId: string): void {
    this.states.delete(institutionId);
    this.views.delete(institutionId);
    this.latestIssued.delete(institutionId);
  }

  view(institutionId: string): MemberFilterView {
    let view = this.views.get(institutionId);
    if (view === undefined) {
      view = memberFilterView(institutionId, this.states.get(institutionId));
      this.views.set(institutionId, view);
    }
    return view;
  }
}
