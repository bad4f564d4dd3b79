import type { AuditTrail } from "../audit/trail.js";
import type { Clock } from "../clock.js";
import { DisputeStatus } from "../gen/creditmesh/v1/common.js";
import type { AccountDeleted, DeletionEffects } from "../records/ingest.js";
import type { DisputeCleanup, DisputeStore } from "../store/types.js";
import { disputeAuditDetails } from "./service.js";

export const DELETED_BY_FURNISHER_NOTE = "account deleted by its furnisher";

/**
 * When a furnisher deletes an account: each deletion goes into the audit
 * trail (with the dispute it closes), and the open disputes this institution
 * holds about the account close as DELETED in the batch that destroys it, so
 * the borrower sees the dispute resolved, not left open on a vanished account.
 */
export function accountDeletionEffects(m: {
  institutionId: string;
  disputes: Pick<DisputeCleanup, "closeWrites"> & Pick<DisputeStore, "listForAccount">;
  audit?: AuditTrail;
  clock: Clock;
}): DeletionEffects {
  return {
    async record(deleted: readonly AccountDeleted[], actor: string): Promise<void> {
      if (!m.audit) return;
      const audit = m.audit;
      await Promise.all(
        deleted.map(async (d) => {
          await audit.append("ACCOUNT_DELETED", actor, { accountRef: d.accountRef, subjectToken: d.subjectToken, reason: d.reason });
          const open = (await m.disputes.listForAccount(d.accountRef)).filter(
            (x) => x.institutionId === m.institutionId && x.status === DisputeStatus.OPEN,
          );
          for (const x of open) await audit.append("DISPUTE_RESOLVED", actor, disputeAuditDetails(x, { outcome: "DELETED" }));
        }),
      );
    },
    async writes(destroyed) {
      const refs = destroyed.map((a) => a.accountRef);
      return (await m.disputes.closeWrites(refs, m.institutionId, DELETED_BY_FURNISHER_NOTE, m.clock.now())).batch;
    },
  };
}
