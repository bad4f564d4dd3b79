import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import type { CosignedCheckpoints } from "../../src/report/witnessed-checkpoints.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { parseCheckpoint, parseNote } from "../../src/tlog/index.js";
import { cli } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

const DAY_MS = 86_400_000;
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19830517", 64, "320106"), name: "钱晓", phone: "" };

describe("`creditmesh verify --checkpoints`: a report's log checkpoints against the ones its holders' witnesses cosigned", () => {
  const tmp = tempDir("cm-verify-witnessed-");
  const net = new TestNetwork({ nodes: 3, configOverrides: { tlog: { checkpointIntervalMs: 300, witnessQuorum: 2, recordVersions: true } } });
  let lender: string;
  let holders: string[];

  beforeAll(async () => {
    await net.start();
    [lender, ...holders] = net.nodes.map((n) => n.institutionId) as [string, ...string[]];
    for (const [i, id] of holders.entries()) {
      await net.client(id).submitRecords([account({ accountId: `VW-${i}`, idNumber: BORROWER.idNumber, name: BORROWER.name }), repayment({ accountId: `VW-${i}` })]);
    }
  }, 180_000);
  afterAll(async () => {
    await net.stop();
    tmp.remove();
  });

  const verify = (report: string, checkpoints: string) =>
    cli(["verify", report, "--manifest", net.layout.manifestFile, "--operator-key", net.layout.operatorPublicKey, "--require-proofs", "--checkpoints", checkpoints, "--witness-quorum", "2"]);

  it("report → fetch each holder's cosigned checkpoint → verify passes; a tampered or unwitnessed checkpoint fails naming the holder", { timeout: 300_000 }, async () => {
    const now = Date.now();
    const consent = await net.client(lender).unary("grantConsent", {
      subject: BORROWER,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(now - 60_000),
      validUntil: new Date(now + DAY_MS),
      evidenceRef: "sha256:verify-witnessed",
    });
    const r: CreditReport = await net.client(lender).unary("getCreditReport", { subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId: consent.consentId, asOf: "", deadlineMs: 10_000 });
    const proved = r.holders.filter((h) => h.status === HolderStatus.OK);
    expect(proved.map((h) => h.institutionId).sort()).toEqual([...holders].sort());
    const reportFile = path.join(tmp.dir, "report.json");
    writeFileSync(reportFile, JSON.stringify(CreditReport.toJSON(r)));

    // The auditor, later and once online: each holder's cosigned checkpoint and the consistency proofs to it.
    const checkpoints = path.join(tmp.dir, "cosigned.json");
    for (const id of holders) {
      const fetched = await cli(["log", "witnessed", "--report", reportFile, "--out", checkpoints, "--config", net.node(id).configFile, "--wait-ms", "120000"]);
      expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
      expect(fetched.stdout).toMatch(new RegExp(`^${id}: cosigned checkpoint of size \\d+`));
    }
    const file = JSON.parse(readFileSync(checkpoints, "utf8")) as CosignedCheckpoints;
    expect(file.logs.map((l) => l.institution_id).sort()).toEqual([...holders].sort());

    const ok = await verify(reportFile, checkpoints);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout.match(/witnessed VERIFIED — the answer's checkpoint \(size \d+\) (is the checkpoint|is consistent with the checkpoint of size \d+) cosigned by /g)).toHaveLength(holders.length);

    // A root changed in one holder's cosigned checkpoint: no longer signed by that holder.
    const [victim, other] = holders as [string, string];
    const entry = file.logs.find((l) => l.institution_id === victim)!;
    const cp = parseCheckpoint(parseNote(entry.cosigned).text);
    const root = Buffer.from(cp.root).toString("base64");
    const changedRoot = Buffer.from(cp.root.map((b, i) => (i === 0 ? b ^ 1 : b))).toString("base64");
    const tampered = path.join(tmp.dir, "tampered.json");
    writeFileSync(tampered, JSON.stringify({ ...file, logs: file.logs.map((l) => (l === entry ? { ...l, cosigned: l.cosigned.replace(root, changedRoot) } : l)) }));
    const bad = await verify(reportFile, tampered);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`holder ${victim}: witnessed: unsigned: the cosigned checkpoint is not signed by ${victim}'s log key`));
    expect(bad.stdout).not.toMatch(new RegExp(`holder ${other}: witnessed`));

    // The holder's own published checkpoint, which no witness signed in this form.
    const plain = await cli(["log", "checkpoint", "--config", net.node(victim).configFile]);
    expect(plain.code, plain.stderr).toBe(0);
    const unwitnessed = path.join(tmp.dir, "unwitnessed.json");
    writeFileSync(unwitnessed, JSON.stringify({ ...file, logs: file.logs.map((l) => (l === entry ? { ...l, cosigned: plain.stdout } : l)) }));
    const lone = await verify(reportFile, unwitnessed);
    expect(lone.code).toBe(1);
    expect(lone.stdout).toMatch(new RegExp(`holder ${victim}: witnessed: too few cosignatures on the cosigned checkpoint \\(size \\d+\\): 0 of the 2 required`));

    const zero = await cli(["verify", reportFile, "--manifest", net.layout.manifestFile, "--checkpoints", checkpoints, "--witness-quorum", "0"]);
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toContain("witness-quorum: must be a positive integer");

    // Without the holder's entry at all.
    const missing = path.join(tmp.dir, "missing.json");
    writeFileSync(missing, JSON.stringify({ ...file, logs: file.logs.filter((l) => l !== entry) }));
    const absent = await verify(reportFile, missing);
    expect(absent.code).toBe(1);
    expect(absent.stdout).toContain(`holder ${victim}: witnessed: no cosigned checkpoint of ${victim}'s log was given`);
  });
});
