import { Inquiry } from "../gen/creditmesh/v1/report.js";
import { CreditMeshError } from "../errors.js";
import { decodeStored } from "./codec.js";
import type { NodeDatabase, WriteOp } from "./database.js";
import { keyPart, SEP, under } from "./keys.js";
import type { InquiryStore, InquiryWrite } from "./types.js";

/**
 * The inquiry log: `<subjectToken>!<ISO time>!<inquiryId>` → Inquiry (protobuf).
 *
 * toISOString() has a fixed width for years 0–9999, so a range scan returns a
 * subject's inquiries oldest first. Re-adding an inquiry (same id and time)
 * overwrites it rather than logging it twice.
 */
export class LevelInquiryStore implements InquiryStore {
  constructor(private readonly db: NodeDatabase) {}

  async add(subjectToken: string, inquiry: Inquiry, opts: InquiryWrite = {}): Promise<void> {
    const { also = [], commit = (ops) => this.db.write(ops) } = opts;
    const token = keyPart("subject_token", subjectToken);
    const id = keyPart("inquiry_id", inquiry.inquiryId);
    const at = inquiry.inquiredAt;
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
      throw new CreditMeshError("VALIDATION_FAILED", "inquired_at: must be a valid time", { field: "inquired_at" });
    }
    await commit([
      {
        type: "put",
        sublevel: this.db.levels.inq,
        key: token + SEP + at.toISOString() + SEP + id,
        value: Inquiry.encode(inquiry).finish(),
      },
      ...also,
    ]);
  }

  /** Oldest first. */
  async listForSubject(subjectToken: string): Promise<Inquiry[]> {
    const entries = await this.db.entries(this.db.levels.inq, under(keyPart("subject_token", subjectToken)));
    return entries.map(([key, bytes]) => decodeStored("inquiry", key, bytes, (b) => Inquiry.decode(b)));
  }

  /** The deletes that destroy a subject's whole inquiry log, for a caller's batch. */
  async destroyOps(subjectToken: string): Promise<WriteOp[]> {
    const keys = await this.db.levels.inq.keys(under(keyPart("subject_token", subjectToken))).all();
    return keys.map((key) => ({ type: "del", sublevel: this.db.levels.inq, key }));
  }
}
