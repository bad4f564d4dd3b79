import type { Inquiry } from "../gen/creditmesh/v1/report.js";
import type { NodeDatabase, WriteOp } from "./database.js";
import { keyPart } from "./keys.js";
import type { InquiryStore, InquiryWrite, SubjectIndex } from "./types.js";

/** Aliases deleted per batch when a transition ends. */
const CLEAR_BATCH = 1000;

/**
 * A subject's earlier token → its token now, written by `tokens migrate`
 * for every subject it re-indexed here (`talias!<earlier>` → current). While
 * the transition lasts, this node answers a query under the earlier token —
 * the one a consent signed before the migration binds — from the subject's
 * re-indexed data, and logs the inquiry there too. Ending the transition
 * clears the table; the earlier tokens then name nothing here.
 */
export class LevelTokenAliases {
  /** Whether any alias may exist: a node that never migrated pays no lookup per query. */
  #any: boolean | undefined;

  constructor(private readonly db: NodeDatabase) {}

  async resolve(token: string): Promise<string | undefined> {
    if (this.#any === undefined) this.#any = (await this.db.levels.talias.keys({ limit: 1 }).all()).length > 0;
    if (!this.#any) return undefined;
    // A point read in place: during a transition every query resolves its token before it reads anything else.
    return this.db.levels.talias.getSync(token);
  }

  /** The write that records `earlier` → `current`, for the migration's batch. */
  putOp(earlier: string, current: string): WriteOp {
    this.#any = true;
    return { type: "put", sublevel: this.db.levels.talias, key: keyPart("subject_token", earlier), value: keyPart("subject_token", current) };
  }

  /** Deletes every alias, in batches; returns how many there were. */
  async clear(): Promise<number> {
    let cleared = 0;
    for (;;) {
      const keys = await this.db.levels.talias.keys({ limit: CLEAR_BATCH }).all();
      if (keys.length === 0) break;
      await this.db.write(keys.map((key) => ({ type: "del" as const, sublevel: this.db.levels.talias, key })));
      cleared += keys.length;
    }
    this.#any = false;
    return cleared;
  }
}

/**
 * The subject index as a holder reads it during a transition: a query under
 * an earlier token reads the subject's re-indexed entries (or, while the
 * migration has not moved them yet, those still under the earlier token).
 */
export function aliasedSubjectIndex(index: SubjectIndex, aliases: LevelTokenAliases): SubjectIndex {
  return {
    read: async (token, inquiriesAfter) => {
      const current = await aliases.resolve(token);
      if (current === undefined) return index.read(token, inquiriesAfter);
      const moved = await index.read(current, inquiriesAfter);
      return moved.accounts.length > 0 || moved.inquiries.length > 0 ? moved : index.read(token, inquiriesAfter);
    },
  };
}

/** The inquiry log as a holder writes it during a transition: an inquiry under an earlier token is logged under the current one. */
export function aliasedInquiries<S extends InquiryStore>(store: S, aliases: LevelTokenAliases): InquiryStore {
  return {
    add: async (token: string, inquiry: Inquiry, opts?: InquiryWrite) => store.add((await aliases.resolve(token)) ?? token, inquiry, opts),
    listForSubject: async (token: string) => store.listForSubject((await aliases.resolve(token)) ?? token),
  };
}
