import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Consent } from "../../src/gen/creditmesh/v1/consent.js";
import { ConsentStatus, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { cli, startNodeProcess, writeConfig, type NodeProcess } from "../helpers/node-process.js";
import { residentId } from "../helpers/records.js";
import { tempDir } from "../helpers/temp.js";

/**
 * A borrower at a member's counter: the institution records two
 * authorizations, shows them, and withdraws one at the borrower's request —
 * with the CLI against a running node.
 */
describe("consents from the CLI", () => {
  const tmp = tempDir("cm-consent-cli-");
  let node: NodeProcess | undefined;

  afterAll(async () => {
    await node?.kill();
    tmp.remove();
  });

  it("grants, lists with status and revokes; the list names no ID number or name, and a bad ID names its field", { timeout: 120_000 }, async () => {
    const configFile = writeConfig(path.join(tmp.dir, "node.json"), {
      institution: { id: "consent-bank", name: "Consent Bank" },
      storage: { dataDir: path.join(tmp.dir, "data") },
      grpc: { host: "127.0.0.1", port: 0 },
      metrics: { enabled: false },
      log: { level: "warn" },
    });
    node = await startNodeProcess(configFile);
    const idNumber = residentId("19910214", 52);
    const who = ["--id-number", idNumber, "--name", "赵敏", "--config", configFile];
    const grant = async (purpose: string) => {
      const r = await cli(["consent", "grant", ...who, "--purpose", purpose, "--evidence-ref", `sha256:signed-form-${purpose.toLowerCase()}`, "--valid-days", "60"]);
      expect(r.code, r.stderr).toBe(0);
      return Consent.fromJSON(JSON.parse(r.stdout));
    };
    const origination = await grant("LOAN_ORIGINATION");
    // --valid-days counts from now, as its help says, even for an authorization signed earlier.
    const before = Date.now();
    const other = ["--id-number", residentId("19770707", 3), "--name", "孙悟", "--config", configFile];
    const backdated = await cli(["consent", "grant", ...other, "--purpose", "POST_LOAN_MANAGEMENT", "--evidence-ref", "sha256:old-form", "--valid-days", "10", "--valid-from", new Date(before - 20 * 86_400_000).toISOString()]);
    expect(backdated.code, backdated.stderr).toBe(0);
    const b = Consent.fromJSON(JSON.parse(backdated.stdout));
    expect(b.status).toBe(ConsentStatus.ACTIVE);
    expect(b.validUntil!.getTime()).toBeGreaterThanOrEqual(before + 10 * 86_400_000);
    expect(b.validUntil!.getTime()).toBeLessThanOrEqual(Date.now() + 10 * 86_400_000);

    const review = await grant("CREDIT_LIMIT_REVIEW");

    const revoked = await cli(["consent", "revoke", origination.consentId, "--config", configFile]);
    expect(revoked.code, revoked.stderr).toBe(0);

    const text = await cli(["consent", "list", ...who]);
    expect(text.code, text.stderr).toBe(0);
    const rows = text.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^CONSENT\s+STATUS\s+PURPOSE/);
    expect(rows.slice(1).map((r) => r.split(/\s{2,}/).slice(0, 3))).toEqual([
      [review.consentId, "ACTIVE", "Credit limit review"],
      [origination.consentId, expect.stringMatching(/^REVOKED \d{4}-\d{2}-\d{2}$/), "Loan origination"],
    ]);
    expect(Math.max(...rows.map((r) => [...r].length))).toBeLessThan(120);

    const json = await cli(["consent", "list", ...who, "--format", "json"]);
    expect(json.code, json.stderr).toBe(0);
    const listed = (JSON.parse(json.stdout) as unknown[]).map((c) => Consent.fromJSON(c));
    expect(listed.map((c) => [c.consentId, c.status, c.purpose])).toEqual([
      [review.consentId, ConsentStatus.ACTIVE, Purpose.CREDIT_LIMIT_REVIEW],
      [origination.consentId, ConsentStatus.REVOKED, Purpose.LOAN_ORIGINATION],
    ]);
    for (const out of [text.stdout, json.stdout]) {
      expect(out).not.toContain(idNumber);
      expect(out).not.toContain("赵敏");
    }

    const stranger = await cli(["consent", "list", "--id-number", residentId("19800101", 9), "--name", "钱多", "--config", configFile]);
    expect(stranger.code, stranger.stderr).toBe(0);
    expect(stranger.stdout).toBe("no consents\n");

    const bad = await cli(["consent", "list", "--id-number", "12345", "--name", "赵敏", "--config", configFile]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("id_number");
  });
});
