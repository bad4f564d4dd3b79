import { setImmediate as nextTurn } from "node:timers/promises";
import { noAudit, type AuditTrail } from "../audit/trail.js";
import { isoDate, type Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { ConsentPurge, DisputeCleanup, InquiryPurge, RetentionRecords, StoredAccount, StoredRepayment, Tombstones } from "../store/types.js";
import { appendTombstones, TombstoneReason } from "../store/types.js";
import { addMonths } from "./dates.js";
import { accountExpired } from "./retention.js";

export interface RetentionJobOptions {
  /** Years a finished account is kept after its last activity (config `retention.accountYears`). */
  accountYears: number;
  /**
   * Years an inquiry is kept after it was logged (config
   * `retention.inquiryYears`), and a consent after it ended: the consent is
   * what the inquiries made under it rest on. Absent = both kept.
   */
  inquiryYears?: number;
  /**
   * This institution: with it, the copies of other holders' disputes filed
   * through this node go `accountYears` after their resolution.
   */
  institutionId?: string;
  /** Time between sweeps (config `retention.intervalMs`). */
  intervalMs: number;
  /** Delay of the first sweep after start(); default min(intervalMs, 60 s). */
  firstDelayMs?: number;
  /** Accounts read per step. */
  batchSize?: number;
}

export interface RetentionJobModules {
  records: RetentionRecords;
  disputes: Pick<DisputeCleanup, "destroyWrites" | "destroyResolvedCopies">;
  /** The inquiry log; purged when `inquiryYears` is set. */
  inquiries?: InquiryPurge;
  /** Consents; those ended more than `inquiryYears` ago are purged. */
  consents?: ConsentPurge;
  clock: Clock;
  audit?: AuditTrail;
  logger: Logger;
  /** The transparency log: a RETENTION_EXPIRED tombstone per destroyed account. */
  tombstones?: Tombstones;
}

export interface RetentionSweep {
  /** Accounts whose last activity is before this day were old enough to go. */
  cutoff: string;
  accounts: number;
  repayments: number;
  disputes: number;
  /** Inquiries logged before this day went (absent without inquiryYears). */
  inquiryCutoff?: string;
  inquiries: number;
  /** Consents that ended (expired or were revoked) before inquiryCutoff. */
  consents: number;
  /** Copies of other holders' disputes resolved before the cutoff (with institutionId). */
  disputeCopies: number;
}

const DEFAULT_BATCH = 500;

/**
 * The scheduled purge: destroys every account kept beyond the retention
 * period (records/retention.ts accountExpired) with its repayments,
 * subject-index entries and disputes, in one batch per step, re-checking
 * each account under the record store's write lock so that one updated
 * meanwhile is kept; then the copies of other holders' disputes resolved
 * before the same cutoff, every inquiry logged more than `inquiryYears`
 * ago, and every consent that ended (expired or was revoked) that long ago. Appends RETENTION_PURGED when a sweep destroyed anything. "Today" comes from the injected clock; the timer is unref'd, so
 * it never keeps the process alive.
 */
export class RetentionJob {
  private timer?: NodeJS.Timeout;
  private running?: Promise<RetentionSweep>;
  private stopped = true;
  private halted = false;

  constructor(
    private readonly opts: RetentionJobOptions,
    private readonly modules: RetentionJobModules,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.halted = false;
    this.schedule(this.opts.firstDelayMs ?? Math.min(this.opts.intervalMs, 60_000));
  }

  /** Cancels the timer and waits for a sweep in progress (each step is one batch, so it ends soon). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halted = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.runOnce()
        .catch((err: unknown) => this.modules.logger.error({ err: (err as Error).message }, "retention purge failed"))
        .finally(() => this.schedule(this.opts.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  /** One sweep over every account; concurrent calls share the sweep in progress. */
  runOnce(): Promise<RetentionSweep> {
    this.running ??= this.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweep(): Promise<RetentionSweep> {
    const { records, disputes, clock, logger } = this.modules;
    const today = isoDate(clock.now());
    const years = this.opts.accountYears;
    const expired = (account: StoredAccount, repayments: readonly StoredRepayment[]) => accountExpired(account, repayments, today, years);
    const result: RetentionSweep = { cutoff: addMonths(today, -12 * years), accounts: 0, repayments: 0, disputes: 0, inquiries: 0, consents: 0, disputeCopies: 0 };
    const batch = this.opts.batchSize ?? DEFAULT_BATCH;
    let after = "";
    for (;;) {
      const accounts = await records.accountsAfter(after, batch);
      if (accounts.length === 0) break;
      after = accounts[accounts.length - 1].accountRef;
      const repayments = await records.repaymentsForAccounts(accounts.map((a) => a.accountRef));
      const candidates = accounts.filter((a) => expired(a, repayments.get(a.accountRef) ?? [])).map((a) => a.accountRef);
      if (candidates.length > 0) {
        const destroyed = await records.destroy(candidates, {
          onlyIf: expired,
          extraWrites: async (gone) => {
            const { batch, disputes: n } = await disputes.destroyWrites({ accountRefs: gone.map((a) => a.accountRef) });
            result.disputes += n;
            return batch;
          },
        });
        result.accounts += destroyed.accounts.length;
        result.repayments += destroyed.repayments;
        await appendTombstones(this.modules.tombstones, destroyed.accounts.map((a) => a.accountRef), TombstoneReason.RetentionExpired);
      }
      // After stop(), the sweep ends at a batch boundary; the next one starts over.
      if (this.halted) break;
      await nextTurn();
    }
    const { inquiryYears, institutionId } = this.opts;
    if (institutionId !== undefined && !this.halted) {
      result.disputeCopies = await disputes.destroyResolvedCopies(institutionId, new Date(`${result.cutoff}T00:00:00.000Z`));
    }
    const { inquiries, consents } = this.modules;
    if (inquiryYears !== undefined && (inquiries || consents) && !this.halted) {
      result.inquiryCutoff = addMonths(today, -12 * inquiryYears);
      const before = `${result.inquiryCutoff}T00:00:00.000Z`;
      const halted = () => this.halted;
      if (inquiries) result.inquiries = await inquiries.purgeBefore(before, { batchSize: batch, halted });
      if (consents && !this.halted) result.consents = await consents.purgeEndedBefore(new Date(before), { batchSize: batch, halted });
    }
    if (result.accounts > 0 || result.inquiries > 0 || result.consents > 0 || result.disputeCopies > 0) {
      await (this.modules.audit ?? noAudit).append("RETENTION_PURGED", "retention", {
        cutoff: result.cutoff,
        accounts: String(result.accounts),
        repayments: String(result.repayments),
        disputes: String(result.disputes),
        ...(result.inquiryCutoff ? { inquiryCutoff: result.inquiryCutoff, inquiries: String(result.inquiries), consents: String(result.consents) } : {}),
        ...(institutionId !== undefined ? { disputeCopies: String(result.disputeCopies) } : {}),
      });
      logger.info({ ...result }, "records past retention purged");
    } else {
      logger.debug({ cutoff: result.cutoff, inquiryCutoff: result.inquiryCutoff }, "nothing past retention");
    }
    return result;
  }
}
