import type { Inquiry } from "../gen/creditmesh/v1/report.js";
import type { NodeDatabase } from "./database.js";
import { decodeInquiry } from "./level-inquiry-store.js";
import type { LevelRecordStore } from "./level-record-store.js";
import { keyPart, subjectInquiries, under } from "./keys.js";
import type { AccountTerms, SubjectIndex } from "./types.js";

/**
 * Reads what a holder answers a query from — the subject's account terms and
 * its inquiry log — with one range scan of the subject index (keys.ts). The
 * record store and the inquiry store each own their entries; this only reads.
 */
export class LevelSubjectIndex implements SubjectIndex {
  constructor(
    private readonly db: NodeDatabase,
    private readonly records: Pick<LevelRecordStore, "accountsFromIndex">,
  ) {}

  async read(subjectToken: string): Promise<{ accounts: AccountTerms[]; inquiries: Inquiry[] }> {
    const token = keyPart("subject_token", subjectToken);
    const inquiryPrefix = subjectInquiries(token).gt;
    const accountEntries: [string, string][] = [];
    const inquiries: Inquiry[] = [];
    for (const entry of await this.db.entries(this.db.levels.subj, under(token))) {
      if (entry[0].startsWith(inquiryPrefix)) inquiries.push(decodeInquiry(entry[0], entry[1]));
      else accountEntries.push(entry);
    }
    return { accounts: await this.records.accountsFromIndex(token, accountEntries), inquiries };
  }
}
