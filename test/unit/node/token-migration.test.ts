import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { newLocalTokenKey } from "../../../src/config/secrets.js";
import { CreditMeshError } from "../../../src/errors.js";
import { Purpose } from "../../../src/gen/creditmesh/v1/common.js";
import { silentLogger } from "../../../src/logger.js";
import { TokenMigration } from "../../../src/node/token-migration.js";
import { accountRefFor, IngestService } from "../../../src/records/ingest.js";
import { openStores, type Stores } from "../../../src/store/index.js";
import { aliasedInquiries, aliasedSubjectIndex, LevelTokenAliases } from "../../../src/store/token-aliases.js";
import { LocalTokenKey } from "../../../src/subject/local-token-key.js";
import { HmacSubjectTokenizer, tokenKeyedNameTag } from "../../../src/subject/tokenizer.js";
import { account, residentId } from "../../helpers/records.js";
import { tempDir } from "../../helpers/temp.js";
import { consent, RecordingAudit } from "../store/data-protection-fixture.js";

const ids = Array.from({ length: 7 }, (_, i) => residentId("19900307", 40 + i));
const key = (idNumber: string) => ({ idTypeName: "CN_RESIDENT_ID", normalizedId: idNumber });

describe("TokenMigration", () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  async function legacyNode(): Promise<{ stores: Stores; hmac: HmacSubjectTokenizer; refOf(id: string): string }> {
    const tmp = tempDir("cm-token-migration-");
    const stores = await openStores(tmp.dir, { dataKeys: [{ id: "k1", key: randomBytes(32) }] });
    cleanup = async () => {
      await stores.close();
      tmp.remove();
    };
    const hmac = new HmacSubjectTokenizer(randomBytes(32));
    const accountRefKey = randomBytes(32);
    const ingest = new IngestService({ accountRefKey }, { store: stores.records, tokenizer: hmac, sealer: stores.cipher, clock: new ManualClock("2026-03-01T00:00:00Z"), logger: silentLogger() });
    // Two accounts for the first subject, one for each other.
    const records = [account({ accountId: "M-0b", idNumber: ids[0], name: "李 娜" }), ...ids.map((idNumber, i) => account({ accountId: `M-${i}`, idNumber, name: "李娜" }))];
    expect(await ingest.submitBatch(records)).toMatchObject({ accepted: records.length, rejected: [] });
    const old0 = hmac.token(key(ids[0]!));
    await stores.inquiries.add(old0, { inquiryId: "q-1", requesterInstitutionId: "cfc-b", purpose: Purpose.LOAN_ORIGINATION, inquiredAt: new Date("2026-02-01T00:00:00Z") } as never);
    await stores.consents.put(consent("c-0", old0));
    return { stores, hmac, refOf: (id) => accountRefFor(accountRefKey, id) };
  }

  function migration(stores: Stores, local: LocalTokenKey, audit: RecordingAudit, tokens = (s: Parameters<LocalTokenKey["tokens"]>[0]) => local.tokens(s)) {
    return new TokenMigration(
      { keyId: local.keyId, batch: 3, actor: "test" },
      {
        db: stores.db, records: stores.records, inquiries: stores.inquiries, consents: stores.consents, aliases: new LevelTokenAliases(stores.db), cipher: stores.cipher,
        tokens: { tokens: (s) => tokens(s), nameTag: (t, n) => local.nameTag(t, n) },
        audit, logger: silentLogger(), now: () => new Date("2026-03-02T00:00:00Z"),
      },
    );
  }

  it("re-indexes every account, inquiry and consent to the new tokens; interrupted after a step, the rerun resumes there and ends in the same state", async () => {
    const { stores, hmac, refOf } = await legacyNode();
    const local = new LocalTokenKey(newLocalTokenKey());
    const audit = new RecordingAudit();
    let calls = 0;
    const failing = migration(stores, local, audit, async (s) => {
      if (++calls === 2) throw new CreditMeshError("UNAVAILABLE", "subject tokens unavailable: 1 of the 2 evaluators needed answered");
      return local.tokens(s);
    });
    await expect(failing.run()).rejects.toMatchObject({ code: "UNAVAILABLE" });
    const halfway = (await failing.state())!;
    expect(halfway).toMatchObject({ state: "running", accounts: 3, keyId: local.keyId });

    const seen: number[] = [];
    const done = await migration(stores, local, audit).run({ onStep: (s) => seen.push(s.accounts + s.unchanged) });
    expect(done).toMatchObject({ state: "finished", accounts: 8, unchanged: 0, subjects: 7, inquiries: 1, consents: 1 });
    expect(seen).toEqual([6, 8]);
    expect(audit.entries.map((e) => e.action)).toEqual([
      "TOKENS_MIGRATION_STARTED", "TOKENS_MIGRATION_PROGRESS", "TOKENS_MIGRATION_PROGRESS", "TOKENS_MIGRATION_PROGRESS", "TOKENS_MIGRATION_FINISHED",
    ]);
    expect(JSON.stringify(audit.entries)).not.toMatch(/19900307|李/);

    const aliases = new LevelTokenAliases(stores.db);
    for (const [i, idNumber] of ids.entries()) {
      const old = hmac.token(key(idNumber));
      const now = local.token(key(idNumber));
      const [a] = await stores.records.getAccounts([refOf(`M-${i}`)]);
      expect(a).toMatchObject({ subjectToken: now, nameTag: tokenKeyedNameTag(now, "李娜") });
      expect((await stores.subjects.read(now, "")).accounts.length).toBe(i === 0 ? 2 : 1);
      expect(await stores.subjects.read(old, "")).toEqual({ accounts: [], inquiries: [] });
      expect(await aliases.resolve(old)).toBe(now);
      expect((await aliasedSubjectIndex(stores.subjects, aliases).read(old, "")).accounts.length).toBe(i === 0 ? 2 : 1);
    }
    const [now0, old0] = [local.token(key(ids[0]!)), hmac.token(key(ids[0]!))];
    expect((await stores.subjects.read(now0, "")).inquiries.map((q) => q.inquiryId)).toEqual(["q-1"]);
    expect((await stores.consents.listForSubject(now0)).map((c) => [c.consentId, c.subjectToken])).toEqual([["c-0", old0]]);
    expect((await stores.records.counts()).subjects).toBe(7);
    // An inquiry logged under the earlier token during the transition lands with the subject.
    await aliasedInquiries(stores.inquiries, aliases).add(old0, { inquiryId: "q-2", requesterInstitutionId: "ecom-c", purpose: Purpose.LOAN_ORIGINATION, inquiredAt: new Date("2026-03-03T00:00:00Z") } as never);
    expect((await stores.inquiries.listForSubject(now0)).map((q) => q.inquiryId)).toEqual(["q-1", "q-2"]);

    // Run again: nothing to do; ending the transition removes the aliases.
    expect(await migration(stores, local, audit).run()).toMatchObject({ state: "finished", accounts: 8 });
    expect(await migration(stores, local, audit).endTransition()).toEqual({ aliases: 7, tokenKeyRemoved: false });
    // Ending it again (a crash before the key left the file) finishes without a second audit entry.
    expect(await migration(stores, local, audit).endTransition()).toEqual({ aliases: 0, tokenKeyRemoved: false });
    expect(audit.entries.filter((e) => e.action === "TOKENS_TRANSITION_ENDED").length).toBe(1);
    expect(await new LevelTokenAliases(stores.db).resolve(old0)).toBeUndefined();
    expect(audit.entries.at(-1)).toMatchObject({ action: "TOKENS_TRANSITION_ENDED", details: { aliases: "7" } });
  });

  it("refuses to end a transition that has not finished, and a batch outside 1..1024", async () => {
    const { stores } = await legacyNode();
    const local = new LocalTokenKey(newLocalTokenKey());
    await expect(migration(stores, local, new RecordingAudit()).endTransition()).rejects.toMatchObject({ code: "CONFLICT" });
    const tooBig = new TokenMigration({ keyId: local.keyId, batch: 2000, actor: "t" }, { db: stores.db } as never);
    await expect(tooBig.run()).rejects.toMatchObject({ field: "batch" });
  });
});
