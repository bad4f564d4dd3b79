import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HolderStatus, IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { CreditReport, HolderAnswer } from "../../src/gen/creditmesh/v1/report.js";
import { NodeKey } from "../../src/identity/node-key.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { cli } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";
import { corruptRecordLeafEntries } from "../helpers/tlog-rewrite.js";

const DAY_MS = 86_400_000;
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19790921", 52, "440305"), name: "周芳", phone: "" };

describe("answers carry log proofs: the lender checks them, `creditmesh verify` checks them offline", () => {
  const tmp = tempDir("cm-answer-proofs-");
  const net = new TestNetwork({ nodes: 3, configOverrides: { tlog: { checkpointIntervalMs: 500, recordVersions: true } } });
  let lender: string;
  let honest: string;
  let cheat: string;
  let consentId: string;

  beforeAll(async () => {
    await net.start();
    [lender, honest, cheat] = net.nodes.map((n) => n.institutionId) as [string, string, string];
    for (const [id, accountId] of [[honest, "AP-H-1"], [cheat, "AP-C-1"]] as const) {
      await net.client(id).submitRecords([account({ accountId, idNumber: BORROWER.idNumber, name: BORROWER.name }), repayment({ accountId })]);
    }
    const now = Date.now();
    const consent = await net.client(lender).unary("grantConsent", {
      subject: BORROWER,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(now - 60_000),
      validUntil: new Date(now + 7 * DAY_MS),
      evidenceRef: "sha256:answer-proofs",
    });
    consentId = consent.consentId;
  }, 180_000);
  afterAll(async () => {
    await net.stop();
    tmp.remove();
  });

  const report = (): Promise<CreditReport> =>
    net.client(lender).unary("getCreditReport", { subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId, asOf: "", deadlineMs: 10_000 });
  const status = (r: CreditReport, id: string) => r.holders.find((h) => h.institutionId === id)!;
  const verify = (file: string) =>
    cli(["verify", file, "--manifest", net.layout.manifestFile, "--operator-key", net.layout.operatorPublicKey, "--require-proofs"]);
  const holderKey = (id: string): NodeKey =>
    NodeKey.fromSeed(Buffer.from((JSON.parse(readFileSync(path.join(path.dirname(net.node(id).configFile), "secrets.json"), "utf8")) as { nodeKey: string }).nodeKey, "hex"));

  it("a saved report's proofs verify offline, and a proof the holder signed wrong or a changed byte fails", { timeout: 180_000 }, async () => {
    const r = await report();
    for (const id of [honest, cheat]) expect(HolderStatus[status(r, id).status]).toBe("OK");
    const file = path.join(tmp.dir, "report.json");
    const json = CreditReport.toJSON(r) as { holders: { institutionId: string; signedAnswer: string; signature: string }[] };
    writeFileSync(file, JSON.stringify(json));
    const ok = await verify(file);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout.match(/log proof VERIFIED — inquiry and 1 record leaves in checkpoint \d+/g)).toHaveLength(2);

    // One byte of the inquiry proof changed: the holder's signature no longer covers the answer.
    const held = json.holders.find((h) => h.institutionId === honest)!;
    const answer = HolderAnswer.decode(Buffer.from(held.signedAnswer, "base64"));
    const flipped = structuredClone(json);
    const bytes = Buffer.from(held.signedAnswer, "base64");
    const at = bytes.indexOf(answer.logProof!.inquiry!.hashes[0]!);
    expect(at).toBeGreaterThan(0);
    bytes[at] ^= 1;
    flipped.holders.find((h) => h.institutionId === honest)!.signedAnswer = bytes.toString("base64");
    writeFileSync(file, JSON.stringify(flipped));
    const changed = await verify(file);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain(`holder ${honest}: signature does not match the signed answer`);

    // The same change signed by the holder itself: the signature holds, the proof does not.
    answer.logProof!.inquiry!.hashes[0]![0] ^= 1;
    const resigned = structuredClone(json);
    const signedAnswer = HolderAnswer.encode(answer).finish();
    Object.assign(resigned.holders.find((h) => h.institutionId === honest)!, {
      signedAnswer: Buffer.from(signedAnswer).toString("base64"),
      signature: Buffer.from(holderKey(honest).sign(signedAnswer)).toString("base64"),
    });
    writeFileSync(file, JSON.stringify(resigned));
    const badProof = await verify(file);
    expect(badProof.code).toBe(1);
    expect(badProof.stdout).toMatch(new RegExp(`holder ${honest}: proof: inquiry: leaf \\d+ is not in the checkpoint`));
    expect(badProof.stdout).toContain("log proof FAILED");
  });

  it("a holder whose record leaves do not open is ERROR \"proof\" and nothing of it is merged; the others stay OK", { timeout: 180_000 }, async () => {
    await net.stopNode(cheat);
    expect(await corruptRecordLeafEntries(net.node(cheat).configFile)).toBeGreaterThan(0);
    await net.startNode(cheat);
    await net.waitConnected();

    const r = await report();
    expect(HolderStatus[status(r, honest).status]).toBe("OK");
    const bad = status(r, cheat);
    expect(HolderStatus[bad.status]).toBe("ERROR");
    expect(bad.reason).toMatch(/^proof: records\[0\]: leaf \d+ is not in the checkpoint of size \d+ \(root does not match\); data dropped$/);
    expect(r.tradelines.map((t) => t.institutionId)).toEqual([honest]);
    expect(r.complete).toBe(false);

    // The report as saved still verifies: the failed holder has nothing signed in it.
    const file = path.join(tmp.dir, "partial.json");
    writeFileSync(file, JSON.stringify(CreditReport.toJSON(r)));
    const checked = await verify(file);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
  });
});
