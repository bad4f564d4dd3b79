import type { RecordVersionLog } from "../records/ingest.js";
import type { AuditTrail } from "../audit/trail.js";
import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { DataCipher } from "../store/cipher.js";
import type { NodeDatabase, WriteOp } from "../store/database.js";
import { MetaKey } from "../store/keys.js";
import type { LevelConsentStore } from "../store/level-consent-store.js";
import type { LevelInquiryStore } from "../store/level-inquiry-store.js";
import type { LevelRecordStore } from "../store/level-record-store.js";
import type { LevelTokenAliases } from "../store/token-aliases.js";
import type { StoredAccount } from "../store/types.js";
import type { SubjectTokens } from "../subject/tokenizer.js";

/** Accounts re-indexed per step: one evaluation request (the committee's batch limit is 1,024). */
export const DEFAULT_MIGRATION_BATCH = 1000;

/** Counts of what a migration re-indexed so far; no personal data. */
export interface MigrationCounts {
  /** Accounts whose subject token changed. */
  accounts: number;
  /** Accounts already under the new token (a resumed step, or ingested after the committee). */
  unchanged: number;
  /** Subjects given an alias (earlier token → new token). */
  subjects: number;
  /** Inquiry log entries moved to the new token. */
  inquiries: number;
  /** Consents filed here under the new token (their signed artefacts still bind the earlier one). */
  consents: number;
}

/**
 * Progress kept in the database (`meta` tokens:migration), written after
 * each step: a rerun resumes after `after`, the last account ref done.
 */
export interface MigrationState extends MigrationCounts {
  version: 1;
  /** running → finished (every account re-indexed; aliases answer earlier tokens) → ended (aliases cleared). */
  state: "running" | "finished" | "ended";
  /** The OPRF key migrated to (hex public key): another key starts over. */
  keyId: string;
  after: string;
  startedAt: string;
  finishedAt?: string;
}

export interface TokenMigrationModules {
  db: NodeDatabase;
  records: LevelRecordStore;
  inquiries: LevelInquiryStore;
  consents: LevelConsentStore;
  aliases: LevelTokenAliases;
  cipher: Pick<DataCipher, "openPii">;
  /**
   * The transparency log's record versions: a re-indexed account is a new
   * version whose leaf commits to its new token, so answers under that token
   * still prove their tradelines.
   */
  recordLog?: RecordVersionLog;
  /** The node's tokens now (the committee's, or its committee of one), with their name tags. */
  tokens: Required<Pick<SubjectTokens, "tokens" | "nameTag">>;
  audit: AuditTrail;
  logger: Logger;
  now: () => Date;
  /** Forgets the legacy token key: its fingerprint in the database, then the key in the secrets file; whether there was one. */
  retireTokenKey?: () => Promise<boolean>;
}

/**
 * Re-indexes a node's data from its earlier subject tokens (the legacy HMAC
 * key, or a committee of one) to the tokens it obtains now, in place, from
 * the identities it keeps sealed with each account. Each step re-tokenizes
 * a batch of accounts with one evaluation (purpose REINDEX), then, for each
 * subject whose token changed: records the alias earlier → new, moves its
 * inquiry log and its consents' index entries (one batch), then rewrites its
 * accounts with the new token and name tag (the subject index and its counts
 * follow), then records the progress. Every write is idempotent, so a
 * process killed anywhere resumes from the last recorded step and ends in
 * the same state.
 */
export class TokenMigration {
  constructor(
    private readonly opts: { keyId: string; batch?: number; actor: string },
    private readonly m: TokenMigrationModules,
  ) {}

  async state(): Promise<MigrationState | undefined> {
    const raw = await this.m.db.levels.meta.get(MetaKey.tokenMigration);
    return raw === undefined ? undefined : (JSON.parse(raw) as MigrationState);
  }

  /** Runs (or resumes) the migration to the end; `onStep` sees the counts after each step. */
  async run(opts: { onStep?: (s: MigrationState) => void; signal?: AbortSignal } = {}): Promise<MigrationState> {
    const batch = this.opts.batch ?? DEFAULT_MIGRATION_BATCH;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024) throw new CreditMeshError("VALIDATION_FAILED", "batch: from 1 to 1024", { field: "batch" });
    let state = await this.state();
    if (state && state.keyId === this.opts.keyId && state.state !== "running") return state;
    if (!state || state.keyId !== this.opts.keyId) {
      state = { version: 1, state: "running", keyId: this.opts.keyId, after: "", accounts: 0, unchanged: 0, subjects: 0, inquiries: 0, consents: 0, startedAt: this.m.now().toISOString() };
      await this.save(state);
      await this.m.audit.append("TOKENS_MIGRATION_STARTED", this.opts.actor, { keyId: state.keyId });
      this.m.logger.info({ keyId: state.keyId }, "token migration started");
    } else {
      this.m.logger.info({ keyId: state.keyId, after: state.after, accounts: state.accounts }, "token migration resumed");
    }
    for (;;) {
      opts.signal?.throwIfAborted();
      const accounts = await this.m.records.accountsAfter(state.after, batch);
      if (accounts.length === 0) break;
      const step = await this.step(accounts, opts.signal);
      state = {
        ...state,
        after: accounts[accounts.length - 1]!.accountRef,
        accounts: state.accounts + step.accounts,
        unchanged: state.unchanged + step.unchanged,
        subjects: state.subjects + step.subjects,
        inquiries: state.inquiries + step.inquiries,
        consents: state.consents + step.consents,
      };
      await this.save(state);
      await this.m.audit.append("TOKENS_MIGRATION_PROGRESS", this.opts.actor, countsOf(state));
      opts.onStep?.(state);
    }
    state = { ...state, state: "finished", finishedAt: this.m.now().toISOString() };
    await this.save(state);
    await this.m.audit.append("TOKENS_MIGRATION_FINISHED", this.opts.actor, countsOf(state));
    this.m.logger.info(countsOf(state), "token migration finished");
    return state;
  }

  /**
   * Ends the transition: earlier tokens stop naming anything here (consents
   * signed under them stop working). Only after a finished migration.
   */
  async endTransition(): Promise<{ aliases: number; tokenKeyRemoved: boolean }> {
    const state = await this.state();
    if ((state?.state !== "finished" && state?.state !== "ended") || state.keyId !== this.opts.keyId) {
      throw new CreditMeshError("CONFLICT", `no finished token migration to key ${this.opts.keyId.slice(0, 16)}…: run \`creditmesh tokens migrate\` to the end first`);
    }
    // Run again after a crash, it finishes what is left: aliases, then the legacy key's binding and the key itself.
    const aliases = await this.m.aliases.clear();
    if (state.state !== "ended") {
      await this.save({ ...state, state: "ended" });
      await this.m.audit.append("TOKENS_TRANSITION_ENDED", this.opts.actor, { keyId: state.keyId, aliases: String(aliases) });
    }
    const tokenKeyRemoved = (await this.m.retireTokenKey?.()) ?? false;
    return { aliases, tokenKeyRemoved };
  }

  private async step(accounts: readonly StoredAccount[], signal?: AbortSignal): Promise<MigrationCounts> {
    const { m } = this;
    const pii = accounts.map((a) => m.cipher.openPii(a.pii, a.accountRef));
    const tokens = await m.tokens.tokens(pii.map((p) => ({ idTypeName: p.idType, normalizedId: p.idNumber })), "REINDEX", signal);
    const counts: MigrationCounts = { accounts: 0, unchanged: 0, subjects: 0, inquiries: 0, consents: 0 };
    const moved = new Map<string, string>();
    const updated: StoredAccount[] = [];
    const previous: StoredAccount[] = [];
    accounts.forEach((a, i) => {
      const token = tokens[i]!;
      const nameTag = pii[i]!.name ? m.tokens.nameTag(token, pii[i]!.name) : undefined;
      if (a.subjectToken === token && a.nameTag === nameTag) {
        counts.unchanged++;
        return;
      }
      if (a.subjectToken !== token) moved.set(a.subjectToken, token);
      const { nameTag: _earlier, ...rest } = a;
      updated.push({ ...rest, subjectToken: token, ...(nameTag ? { nameTag } : {}) });
      previous.push(a);
    });
    // Aliases and the subject's other entries first: a step killed after them and before the accounts is redone whole.
    const ops: WriteOp[] = [];
    for (const [earlier, current] of moved) {
      if ((await m.aliases.resolve(earlier)) !== current) counts.subjects++;
      ops.push(m.aliases.putOp(earlier, current));
      const inquiries = await m.inquiries.reindexOps(earlier, current);
      const consents = await m.consents.reindexOps(earlier, current);
      ops.push(...inquiries.ops, ...consents.ops);
      counts.inquiries += inquiries.inquiries;
      counts.consents += consents.consents;
    }
    if (ops.length > 0) await m.db.write(ops);
    if (updated.length > 0) {
      const tokenOf = new Map(updated.map((a) => [a.accountRef, a.subjectToken]));
      const subjectOf = (ref: string): string => {
        const token = tokenOf.get(ref);
        if (token === undefined) throw new CreditMeshError("INTERNAL", `no subject known for account ${ref}`);
        return token;
      };
      const recordLog = m.recordLog;
      await m.records.writeRecords(updated, previous, [], recordLog ? { commitVersioned: (batch, written) => recordLog.commitRecords(batch, written, subjectOf) } : undefined);
    }
    counts.accounts += updated.length;
    return counts;
  }

  private save(state: MigrationState): Promise<void> {
    return this.m.db.write([{ type: "put", sublevel: this.m.db.levels.meta, key: MetaKey.tokenMigration, value: JSON.stringify(state) }]);
  }
}

function countsOf(s: MigrationState): Record<string, string> {
  return {
    keyId: s.keyId,
    accounts: String(s.accounts),
    unchanged: String(s.unchanged),
    subjects: String(s.subjects),
    inquiries: String(s.inquiries),
    consents: String(s.consents),
  };
}
