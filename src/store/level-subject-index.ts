import type { Inquiry } from "../gen/creditmesh/v1/report.js";
import type { NodeDatabase } from "./database.js";
import { decodeInquiry } from "./level-inquiry-store.js";
import type { LevelRecordStore } from "./level-record-store.js";
import { keyPart, subjectWindow, subjectWindowAndAccounts } from "./keys.js";
import { SubjectIndexCache } from "./subject-index-cache.js";
import type { AccountTerms, SubjectIndex } from "./types.js";

/**
 * Reads what a holder answers a query from — the subject's account terms and
 * the inquiries an answer may show — from one range of the subject index
 * (keys.ts): the window index entries after a day, then the accounts; a
 * recently queried subject's from memory (subject-index-cache.ts).
 * The full inquiry log is not read: a subject queried 10,000 times by one
 * lender on one day costs one entry here. The record store and the inquiry
 * store each own their entries; this only reads.
 */
export class LevelSubjectIndex implements SubjectIndex {
  readonly #cache: SubjectIndexCache;

  constructor(
    db: NodeDatabase,
    private readonly records: Pick<LevelRecordStore, "accountsFromIndex">,
  ) {
    this.#cache = new SubjectIndexCache(db);
  }

  async read(subjectToken: string, inquiriesAfter: string): Promise<{ accounts: AccountTerms[]; inquiries: Inquiry[] }> {
    const token = keyPart("subject_token", subjectToken);
    const windowPrefix = subjectWindow(token).gt;
    const accountEntries: (readonly [string, string])[] = [];
    const inquiries: Inquiry[] = [];
    for (const entry of await this.#cache.read(token, subjectWindowAndAccounts(token, inquiriesAfter).gt)) {
      if (entry[0].startsWith(windowPrefix)) inquiries.push(decodeInquiry(entry[0], entry[1]));
      else accountEntries.push(entry);
    }
    return { accounts: await this.records.accountsFromIndex(token, accountEntries), inquiries };
  }
}
