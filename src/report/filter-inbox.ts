import { CreditMeshError, invalid } from "../errors.js";
import { acceptFullFilter, verifyAnnouncement, verifyDelta, type FilterSigner } from "../filters/announcement.js";
import { DEFAULT_FILTER_LIMITS, type FilterLimits } from "../filters/types.js";
import { FilterAnnouncement, FilterDelta, FilterFetchResponse, FilterGossip } from "../gen/creditmesh/v1/filters.js";
import type { Signed } from "../gen/creditmesh/v1/peer.js";
import type { FilterBook } from "./filter-book.js";

/** The member an institution id names in the current manifest, if any. */
export type MemberLookup = (institutionId: string) => FilterSigner | undefined;

/**
 * What the caller should do after a message: fetch the member's filter or
 * deltas, or nothing. A gossiped delta also says how far the member's
 * revocation log went when it was signed (`revocationHead`).
 */
export type InboxResult = {
  institutionId: string;
  fetch?: { epoch: number; includeFilter: boolean; deltasAfter: number };
  revocationHead?: { head: number; issuedAt: Date };
};

function claimedInstitution(body: Uint8Array, decoder: typeof FilterAnnouncement | typeof FilterDelta, what: string): string {
  try {
    return decoder.decode(body).institutionId;
  } catch (cause) {
    throw new CreditMeshError("VALIDATION_FAILED", `${what}: not a valid message`, { field: what, cause });
  }
}

/**
 * The requester's entry point for filter messages, wire bytes in: decodes,
 * finds the claimed member in the manifest, verifies, records in the book,
 * and says what to fetch next. Throws MEMBERSHIP_DENIED for a non-member,
 * SIGNATURE_INVALID or VALIDATION_FAILED for a bad message; the book is
 * untouched then. Knows nothing of libp2p: p2p/ hands it bytes.
 */
export class FilterInbox {
  constructor(
    private readonly opts: { selfInstitutionId: string; limits?: FilterLimits },
    private readonly modules: { book: FilterBook; members: MemberLookup },
  ) {}

  private get limits(): FilterLimits {
    return this.opts.limits ?? DEFAULT_FILTER_LIMITS;
  }

  private signerOf(institutionId: string, what: string): FilterSigner | undefined {
    if (institutionId === this.opts.selfInstitutionId) return undefined;
    const signer = this.modules.members(institutionId);
    if (signer === undefined) {
      throw new CreditMeshError("MEMBERSHIP_DENIED", `${what}: ${institutionId || "no institution"} is not a member`, {
        field: `${what}.institution_id`,
      });
    }
    return signer;
  }

  private next(institutionId: string): InboxResult {
    const position = this.modules.book.fetchPosition(institutionId);
    const view = this.modules.book.view(institutionId);
    const wanted = position !== undefined && (position.includeFilter || view.failOpen === "DELTA_GAP");
    return wanted ? { institutionId, fetch: position } : { institutionId };
  }

  /**
   * What a fetch from the member should ask for now, or undefined when its
   * filters are complete (or it is this node, or not a member): the whole
   * filter for a member never heard from or announced at a new epoch, the
   * deltas after the last one held when one is missing.
   */
  wanted(institutionId: string): NonNullable<InboxResult["fetch"]> | undefined {
    if (institutionId === this.opts.selfInstitutionId || this.modules.members(institutionId) === undefined) return undefined;
    if (this.modules.book.view(institutionId).failOpen === "NO_ANNOUNCEMENT") return { epoch: 0, includeFilter: true, deltasAfter: 0 };
    return this.next(institutionId).fetch;
  }

  /** One message from the filters gossip topic. Undefined for this node's own messages. */
  gossip(bytes: Uint8Array): InboxResult | undefined {
    let message: FilterGossip;
    try {
      message = FilterGossip.decode(bytes);
    } catch (cause) {
      throw new CreditMeshError("VALIDATION_FAILED", "filter gossip: not a valid message", { field: "filter_gossip", cause });
    }
    switch (message.kind?.$case) {
      case "announcement":
        return this.announcement(message.kind.value);
      case "delta":
        return this.delta(message.kind.value);
      default:
        throw invalid("filter_gossip.kind", "must be an announcement or a delta");
    }
  }

  announcement(signed: Signed): InboxResult | undefined {
    const signer = this.signerOf(claimedInstitution(signed.body, FilterAnnouncement, "announcement"), "announcement");
    if (signer === undefined) return undefined;
    this.modules.book.announce(verifyAnnouncement(signed, signer, this.limits));
    return this.next(signer.institutionId);
  }

  delta(signed: Signed): InboxResult | undefined {
    const signer = this.signerOf(claimedInstitution(signed.body, FilterDelta, "delta"), "delta");
    if (signer === undefined) return undefined;
    const delta = verifyDelta(signed, signer, this.limits);
    this.modules.book.addDelta(delta);
    const result = this.next(signer.institutionId);
    return delta.revocationHead === undefined ? result : { ...result, revocationHead: { head: delta.revocationHead, issuedAt: delta.issuedAt } };
  }

  /**
   * A member's answer to a fetch (wire bytes). Everything is verified before
   * anything is recorded, so a bad part leaves the book as it was.
   */
  fetchResponse(institutionId: string, bytes: Uint8Array): InboxResult {
    const signer = this.signerOf(institutionId, "filter_fetch");
    if (signer === undefined) throw invalid("filter_fetch.institution_id", "is this node");
    let response: FilterFetchResponse;
    try {
      response = FilterFetchResponse.decode(bytes);
    } catch (cause) {
      throw new CreditMeshError("VALIDATION_FAILED", "filter_fetch: not a valid message", { field: "filter_fetch", cause });
    }
    if (response.announcement === undefined) throw invalid("filter_fetch.announcement", "is required");
    const announcement = verifyAnnouncement(response.announcement, signer, this.limits);
    const full = response.filter.length > 0 ? acceptFullFilter(announcement, response.filter) : undefined;
    const deltas = response.deltas.map((d, i) => {
      const delta = verifyDelta(d, signer, this.limits);
      if (delta.epoch !== announcement.epoch) throw invalid(`filter_fetch.deltas[${i}].epoch`, "is not the announced epoch");
      return delta;
    });
    this.modules.book.announce(announcement);
    if (full !== undefined) this.modules.book.setFull(full);
    for (const delta of deltas) this.modules.book.addDelta(delta);
    return this.next(institutionId);
  }
}
