import type { Clock } from "../clock.js";
import { CreditMeshError, invalid } from "../errors.js";
import type { Signed } from "../gen/creditmesh/v1/peer.js";
import type { NodeKey } from "../identity/node-key.js";
import { filterSha256, signAnnouncement, signDelta } from "./announcement.js";
import { BinaryFuse16, TokenDigests, type RandomSource } from "./binary-fuse.js";
import type { TokenKey } from "./token-digest.js";
import type { FilterLeaf } from "../tlog/leaves.js";
import type { Announcement } from "./types.js";

/** Where the holder's tokens come from: at integration, the subject index's keys. */
export type TokenSource = () => AsyncIterable<TokenKey> | Iterable<TokenKey>;

export interface FilterBuilderModules {
  tokens: TokenSource;
  key: Pick<NodeKey, "sign">;
  clock: Clock;
  random?: RandomSource;
  /**
   * Appends a full filter's leaf to the holder's transparency log and
   * resolves with its index once durable; the announcement then names it
   * (log_leaf_index). Without it, nothing is logged.
   */
  logFilter?: (leaf: FilterLeaf) => Promise<number>;
}

export interface FullPublication {
  announcement: Announcement;
  /** Signed(FilterAnnouncement) for the gossip topic. */
  signedAnnouncement: Signed;
  /** The filter's bytes, served to members that fetch it. */
  filter: Uint8Array;
  /** When the build began reading the index: the epoch's deltas count from here. */
  startedAt: Date;
}

export interface DeltaPublication {
  epoch: number;
  firstSequence: number;
  sequence: number;
  /** Signed(FilterDelta) for the gossip topic. */
  signed: Signed;
  /** What the holder's transparency log commits to for this delta. */
  leaf: FilterLeaf;
}

interface EpochState {
  full: FullPublication;
  /** Tokens first seen in each closed interval (index = sequence - 1), and in the open one. */
  intervals: string[][];
  open: Set<string>;
  /** Signed deltas by sequence (index = sequence - 1). */
  deltas: DeltaPublication[];
}

function lowestBit(n: number): number {
  return n & -n;
}

function tokenText(token: TokenKey): string {
  return typeof token === "string" ? token.toLowerCase() : Buffer.from(token).toString("hex");
}

/**
 * The holder's side: builds the full filter of every token it holds data
 * for (a new epoch), and between rebuilds turns the tokens it gains into
 * signed deltas, one per interval.
 *
 * Delta n covers intervals n - lowbit(n) + 1 .. n (delta 6 covers 5–6,
 * delta 8 covers 1–8), as in a binary counter: a requester needs at most
 * log2(n) + 1 deltas to cover an epoch, and a lost delta is filled by the
 * next one that covers it. Each token thus travels in about log2(n) deltas,
 * a fair price at a day's worth of new customers.
 *
 * Tokens noted while a rebuild reads the index go into the current epoch's
 * deltas and also into the next epoch's first interval, so none is lost
 * between the index scan and the switch.
 */
export class FilterBuilder {
  private epoch?: EpochState;
  /** Set while a rebuild reads the index: tokens noted then, for the next epoch. */
  private carry?: Set<string>;
  private lastEpoch: number;
  private rebuilding = false;

  constructor(
    private readonly opts: { institutionId: string; /** The last epoch published before a restart, if persisted. */ minEpoch?: number },
    private readonly modules: FilterBuilderModules,
  ) {
    this.lastEpoch = opts.minEpoch ?? 0;
  }

  /** A token the holder now holds data for (say, a first account for a subject). Repeats are harmless. */
  noteToken(token: TokenKey): void {
    BinaryFuse16.digest(token, "subject_token"); // validates
    const text = tokenText(token);
    this.epoch?.open.add(text);
    this.carry?.add(text);
  }

  /** Reads every token from the source and publishes a full filter as a new epoch. */
  async rebuild(signal?: AbortSignal): Promise<FullPublication> {
    if (this.rebuilding) throw new CreditMeshError("CONFLICT", "a filter rebuild is already running");
    this.rebuilding = true;
    const carry = new Set<string>();
    this.carry = carry;
    try {
      const startedAt = this.modules.clock.now();
      const digests = new TokenDigests();
      for await (const token of this.modules.tokens()) {
        signal?.throwIfAborted();
        digests.add(token);
      }
      const filter = BinaryFuse16.fromDigests(digests, { random: this.modules.random });
      const bytes = filter.toBytes();
      const epoch = Math.max(this.lastEpoch + 1, startedAt.getTime());
      const filterHash = filterSha256(bytes);
      // Logged before it is signed: the announcement names the leaf, and the filter is in the log before any member sees it.
      const logLeafIndex = await this.modules.logFilter?.({ institutionId: this.opts.institutionId, epoch, sequence: 0, count: filter.capacity, filterSha256: filterHash });
      signal?.throwIfAborted();
      const announcement: Announcement = {
        institutionId: this.opts.institutionId,
        epoch,
        count: filter.capacity,
        filterSha256: filterHash,
        filterBytes: bytes.length,
        deltaSequence: 0,
        issuedAt: this.modules.clock.now(),
        ...(logLeafIndex === undefined ? {} : { logLeafIndex }),
      };
      const full: FullPublication = {
        announcement,
        signedAnnouncement: signAnnouncement(this.modules.key, announcement),
        filter: bytes,
        startedAt,
      };
      this.lastEpoch = epoch;
      this.epoch = { full, intervals: [], open: carry, deltas: [] };
      return full;
    } finally {
      this.carry = undefined;
      this.rebuilding = false;
    }
  }

  /**
   * Closes the open interval and signs its delta (empty or not: the stream
   * must not tell when customers arrive), with the last position of this
   * node's revocation log when the caller gives it.
   */
  issueDelta(opts: { revocationHead?: number } = {}): DeltaPublication {
    const state = this.current();
    state.intervals.push([...state.open]);
    state.open = new Set();
    const sequence = state.intervals.length;
    const firstSequence = sequence - lowestBit(sequence) + 1;
    const tokens = new Set<string>();
    for (let i = firstSequence; i <= sequence; i++) for (const t of state.intervals[i - 1]) tokens.add(t);
    const filter = BinaryFuse16.build(tokens, { random: this.modules.random });
    const epoch = state.full.announcement.epoch;
    const signed = signDelta(this.modules.key, {
      institutionId: this.opts.institutionId,
      epoch,
      firstSequence,
      sequence,
      filter,
      issuedAt: this.modules.clock.now(),
      revocationHead: opts.revocationHead,
    });
    const leaf: FilterLeaf = { institutionId: this.opts.institutionId, epoch, sequence, count: filter.capacity, filterSha256: filterSha256(filter.toBytes()) };
    const published = { epoch, firstSequence, sequence, signed, leaf };
    state.deltas.push(published);
    return published;
  }

  /** The current announcement signed again with the latest delta position, for a periodic re-announcement. */
  reannounce(): Signed {
    const state = this.current();
    const announcement = { ...state.full.announcement, deltaSequence: state.deltas.length, issuedAt: this.modules.clock.now() };
    return signAnnouncement(this.modules.key, announcement);
  }

  /**
   * What a fetch for `epoch` gets: the current announcement, the full filter
   * if asked for, and the fewest deltas covering the intervals after
   * `deltasAfter` (all of them if the requester's epoch is not the current one).
   */
  answerFetch(req: { epoch: number; includeFilter: boolean; deltasAfter: number }): {
    announcement: Signed;
    filter?: Uint8Array;
    deltas: Signed[];
  } {
    const state = this.current();
    if (!Number.isSafeInteger(req.deltasAfter) || req.deltasAfter < 0) throw invalid("deltas_after", "must be a non-negative integer");
    const sameEpoch = req.epoch === state.full.announcement.epoch;
    const after = sameEpoch ? Math.min(req.deltasAfter, state.deltas.length) : 0;
    const deltas: Signed[] = [];
    for (let current = state.deltas.length; current > after; ) {
      const d = state.deltas[current - 1];
      deltas.push(d.signed);
      current = d.firstSequence - 1;
    }
    deltas.reverse();
    return {
      announcement: this.reannounce(),
      filter: req.includeFilter || !sameEpoch ? state.full.filter : undefined,
      deltas,
    };
  }

  get currentEpoch(): number | undefined {
    return this.epoch?.full.announcement.epoch;
  }

  /** What this holder publishes now (node status): the epoch's announcement and how many deltas followed it; undefined before the first build. */
  published(): { announcement: Announcement; deltas: number } | undefined {
    const state = this.epoch;
    return state && { announcement: state.full.announcement, deltas: state.deltas.length };
  }

  private current(): EpochState {
    if (this.epoch === undefined) throw new CreditMeshError("UNAVAILABLE", "no filter built yet");
    return this.epoch;
  }
}
