import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { CreditReport, NameCheck } from "../../src/gen/creditmesh/v1/report.js";
import { renderHtml } from "../../src/report/render-html.js";
import { renderText } from "../../src/report/render-text.js";
import { TestClient } from "../helpers/grpc-client.js";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";
import { account, residentId } from "../helpers/records.js";

const ID = residentId("19880808", 88);
const ON_FILE = { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: "王芳", phone: "" };
const DAY = 24 * 3600 * 1000;

describe("a report for the right ID with a wrong name is flagged", () => {
  let n: InProcessNode;
  let client: TestClient;
  let consentId: string;

  const report = (name: string): Promise<CreditReport> =>
    client.unary("getCreditReport", { subject: { ...ON_FILE, name }, purpose: Purpose.LOAN_ORIGINATION, consentId, asOf: "", deadlineMs: 0 });

  beforeAll(async () => {
    n = await startInProcessNode({ institutionId: "name-bank" });
    client = new TestClient(n.address, n.apiKey);
    const [ack] = await client.submit([{ records: [account({ idNumber: ID, name: ON_FILE.name })] }]);
    expect(ack!.accepted).toBe(1);
    consentId = (await client.unary("grantConsent", { subject: ON_FILE, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + DAY), evidenceRef: "sha256:9f2c1e0a7b3d" })).consentId;
  });
  afterAll(async () => {
    client?.close();
    await n?.stop();
  });

  it("the name on file (ignoring spaces and width) matches", async () => {
    for (const name of ["王芳", " 王 芳 "]) {
      const r = await report(name);
      expect(r).toMatchObject({ nameCheck: NameCheck.NAME_MATCHES, nameDiffersAt: [] });
      expect(renderText(r)).toContain("matches the name on file");
    }
  });

  it("another name is flagged in the report, its text and its HTML, naming the holder", async () => {
    const r = await report("李四");
    expect(r.tradelines).toHaveLength(1);
    expect(r).toMatchObject({ nameCheck: NameCheck.NAME_DIFFERS, nameDiffersAt: ["name-bank"] });
    expect(renderText(r)).toMatch(/Name\s+WARNING: differs from the name on file at name-bank/);
    expect(renderHtml(r)).toContain('data-name-check="differs"');
    // No name leaves the holder: the answer carries keyed tags only.
    expect(JSON.stringify(r)).not.toContain("王芳");
  });

  it("a minority name matches however a core system wrote its separator, or left it out", async () => {
    const subject = { ...ON_FILE, idNumber: residentId("19900101", 91), name: "阿卜杜拉·买买提" };
    const [ack] = await client.submit([{ records: [account({ accountId: "ACC-MINORITY", idNumber: subject.idNumber, name: subject.name })] }]);
    expect(ack!.accepted).toBe(1);
    const c = await client.unary("grantConsent", { subject, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + DAY), evidenceRef: "sha256:9f2c1e0a7b3d" });
    const asked = (name: string): Promise<CreditReport> =>
      client.unary("getCreditReport", { subject: { ...subject, name }, purpose: Purpose.LOAN_ORIGINATION, consentId: c.consentId, asOf: "", deadlineMs: 0 });
    for (const name of ["阿卜杜拉·买买提", "阿卜杜拉•买买提", "阿卜杜拉・买买提", "阿卜杜拉．买买提", "阿卜杜拉买买提"]) {
      expect(await asked(name), name).toMatchObject({ nameCheck: NameCheck.NAME_MATCHES, nameDiffersAt: [] });
    }
    expect(await asked("阿卜杜拉·买买")).toMatchObject({ nameCheck: NameCheck.NAME_DIFFERS, nameDiffersAt: ["name-bank"] });
  });

  it("a subject with no accounts has nothing to compare", async () => {
    const other = { ...ON_FILE, idNumber: residentId("19770707", 77) };
    const c = await client.unary("grantConsent", { subject: other, purpose: Purpose.LOAN_ORIGINATION, validUntil: new Date(Date.now() + DAY), evidenceRef: "sha256:9f2c1e0a7b3d" });
    const r = await client.unary("getCreditReport", { subject: other, purpose: Purpose.LOAN_ORIGINATION, consentId: c.consentId, asOf: "", deadlineMs: 0 });
    expect(r.nameCheck).toBe(NameCheck.NAME_NOT_CHECKED);
  });
});
