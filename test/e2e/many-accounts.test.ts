import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, ProductType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import type { Record as WireRecord } from "../../src/gen/creditmesh/v1/records.js";
import { renderText } from "../../src/report/render-text.js";
import { MAX_TRADELINES_LISTED } from "../../src/report/tradeline-cap.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { cli } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

/**
 * A borrower of a platform that books every instalment purchase as an
 * account: 1,200 accounts at one member, 6 repayments each. Before the cap,
 * the holder's answer (with a record proof per tradeline) outgrew the 1 MiB
 * frame and every report on this borrower came back ERROR "answer too large",
 * incomplete, however often it was asked.
 */
const ACCOUNTS = 1_200;
const OPEN = 20;
const LATE = 5;
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19930704", 518, "330106"), name: "周敏", phone: "13600006666" };

describe("a borrower with more accounts at one member than an answer lists", () => {
  const tmp = tempDir("cm-many-accounts-");
  const net = new TestNetwork({ nodes: 2, roles: (i) => (i === 0 ? [Role.LENDER] : [Role.FURNISHER]) });
  let consentId = "";

  beforeAll(async () => {
    await net.start();
    await net.waitConnected();
    const records: WireRecord[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const accountId = `BNPL-${i}`;
      // Accounts 0..OPEN-1 are still open (opened last month); the next LATE were paid late once; the rest paid off on time.
      const opened = i < OPEN ? "2026-10-05" : `${2021 + Math.floor(i / 300)}-0${1 + (i % 3)}-05`;
      records.push(account({ idNumber: BORROWER.idNumber, name: BORROWER.name, accountId, productType: ProductType.INSTALLMENT_LOAN, openedOn: opened, creditLimit: "60000", termMonths: 6 }));
      if (i < OPEN) continue;
      for (let k = 1; k <= 6; k++) {
        const due = `${opened.slice(0, 5)}0${Number(opened.slice(5, 7)) + k}-05`;
        const paid = i < OPEN + LATE && k === 2 ? `${due.slice(0, 8)}28` : due;
        records.push(repayment({ accountId, installment: k, dueOn: due, amountDue: "10000", paidOn: paid, amountPaid: "10000", balanceAfter: String(60000 - 10000 * k) }));
      }
    }
    const batches = [];
    for (let i = 0; i < records.length; i += 1_000) batches.push({ records: records.slice(i, i + 1_000) });
    const acks = await net.client("cfc-b").submit(batches);
    expect(acks.reduce((s, a) => s + a.accepted, 0)).toBe(records.length);
    const consent = await net.client("bank-a").unary("grantConsent", {
      subject: BORROWER,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 86_400_000),
      evidenceRef: "sha256:many-accounts",
    });
    consentId = consent.consentId;
  }, 300_000);

  afterAll(async () => {
    await net.stop();
    tmp.remove();
  });

  it(`lists ${MAX_TRADELINES_LISTED} of them, every open and late one among them, says so, and the report is complete and verifies`, { timeout: 120_000 }, async () => {
    const r: CreditReport = await net.client("bank-a").unary("getCreditReport", { subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId, asOf: "", deadlineMs: 20_000 });
    const holder = r.holders.find((h) => h.institutionId === "cfc-b")!;
    expect([HolderStatus[holder.status], holder.reason]).toEqual(["OK", ""]);
    expect(r.complete).toBe(true);
    expect([holder.tradelines, holder.tradelinesTotal]).toEqual([MAX_TRADELINES_LISTED, ACCOUNTS]);
    expect(r.tradelines).toHaveLength(MAX_TRADELINES_LISTED);
    expect(r.summary?.openAccounts).toBe(OPEN);
    expect(r.tradelines.filter((t) => t.maxDaysPastDue > 0)).toHaveLength(LATE);

    const text = renderText(r);
    expect(text).toContain(`holds ${ACCOUNTS} accounts for this borrower and lists ${MAX_TRADELINES_LISTED}: the open and derogatory ones first`);
    expect(text).toMatch(new RegExp(`\\(cfc-b\\)\\s+Answered\\s+\\d+ ms\\s+${MAX_TRADELINES_LISTED} of ${ACCOUNTS}\\s`));

    const file = path.join(tmp.dir, "report.json");
    writeFileSync(file, JSON.stringify(CreditReport.toJSON(r)));
    const verified = await cli(["verify", file, "--manifest", net.layout.manifestFile, "--operator-key", net.layout.operatorPublicKey, "--require-proofs"]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});
