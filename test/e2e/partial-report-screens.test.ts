import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatCsvRecord, csvHeader } from "../../src/cli/record-file-write.js";
import { IdType, Purpose } from "../../src/gen/creditmesh/v1/common.js";
import { institutionAt } from "../../src/testnet/layout.js";
import { startInProcessNetwork, type InProcessNetwork, type NetworkMember } from "../helpers/in-process-network.js";
import { cli, REPO_ROOT } from "../helpers/node-process.js";
import { account, repayment, residentId } from "../helpers/records.js";

/**
 * What a loan officer sees when one member of three is down: the report in
 * Chromium and in a terminal (tmux) opens with the INCOMPLETE banner, above
 * the score; and a furnisher's `creditmesh ingest` in a terminal shows its
 * progress. Screens are polled until the text appears: no timings.
 */

const CHROMIUM = "/usr/bin/chromium";
const OUT_DIR = path.resolve("test-output");
const SCREENSHOT = path.join(OUT_DIR, "report-incomplete.png");
const ID = residentId("19910612", 421, "330106");
const NAME = "欧阳娜娜";
const SUBJECT = { idType: IdType.CN_RESIDENT_ID, idNumber: ID, name: NAME, phone: "" };
const DOWN = institutionAt(2);
const BANNER = new RegExp(`INCOMPLETE\\W+2 of 3 institutions answered; ${DOWN.id} did not answer: (UNREACHABLE|TIMEOUT) \\(${DOWN.name}\\)`);

describe("a report with one member down, on screen", () => {
  let net: InProcessNetwork;
  let lender: NetworkMember;
  let consentId: string;
  const reportArgs = () => [
    "report",
    "--config",
    lender.layout.configFile,
    "--id-number",
    ID,
    "--name",
    NAME,
    "--consent-id",
    consentId,
    "--deadline-ms",
    "3000",
  ];

  beforeAll(async () => {
    // The third member never starts: it is in the manifest, so it is asked, and cannot answer.
    net = await startInProcessNetwork({ nodes: 3, run: (i) => i !== 2 });
    const [a, b] = net.running as [NetworkMember, NetworkMember];
    lender = a;
    for (const [m, id] of [
      [a, "SCREEN-A"],
      [b, "SCREEN-B"],
    ] as const) {
      const acks = await m.client!.submit([{ records: [account({ accountId: id, idNumber: ID, name: NAME }), repayment({ accountId: id })] }]);
      expect(acks[0]!.rejected).toEqual([]);
    }
    const consent = await lender.client!.unary("grantConsent", {
      subject: SUBJECT,
      purpose: Purpose.LOAN_ORIGINATION,
      validFrom: new Date(Date.now() - 60_000),
      validUntil: new Date(Date.now() + 3_600_000),
      evidenceRef: "sha256:screens",
    });
    consentId = consent.consentId;
  }, 120_000);

  afterAll(async () => {
    await net?.stop();
  });

  it("in JSON: complete is false, zeros are kept and counts are numbers", { timeout: 60_000 }, async () => {
    const res = await cli([...reportArgs(), "--format", "json"]);
    expect(res.code, res.stderr).toBe(0);
    const json = JSON.parse(res.stdout);
    expect(json.complete).toBe(false);
    expect(json.summary.totalPastDue).toBe("0");
    expect(json.summary.delinquentAccounts).toBe(0);
    expect(json.summary.accounts).toBe(2);
    expect(json.institutionNames[DOWN.id]).toBe(DOWN.name);
    const down = json.holders.find((h: { institutionId: string }) => h.institutionId === DOWN.id);
    expect(down.tradelines).toBe(0);
    expect(["UNREACHABLE", "TIMEOUT"]).toContain(down.status);
  });

  it("in Chromium: the INCOMPLETE banner sits above the score, which says it is partial (screenshot kept)", { timeout: 120_000 }, async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    const file = path.join(net.layout.dir, "report.html");
    const res = await cli([...reportArgs(), "--format", "html", "--out", file]);
    expect(res.code, res.stderr).toBe(0);

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.setContent(readFileSync(file, "utf8"), { waitUntil: "load" });
      const banner = page.locator("#incomplete");
      await expect.poll(() => banner.isVisible()).toBe(true);
      expect(await banner.textContent()).toMatch(BANNER);
      const bannerBox = await banner.boundingBox();
      const scoreBox = await page.locator("#score").boundingBox();
      expect(bannerBox && scoreBox && bannerBox.y + bannerBox.height <= scoreBox.y).toBe(true);
      expect(await page.locator("#score .partial").isVisible()).toBe(true);
      // The borrower as the lender named them, the ID masked.
      const header = (await page.locator("header").textContent()) ?? "";
      expect(header).toContain(NAME);
      expect(header).toContain(`${ID.slice(0, 6)}********${ID.slice(-4)}`);
      expect(header).not.toContain(ID);
      // Institutions by name in the tradelines and in the list of those asked.
      const tradelineTitles = await page.locator(".tradeline h3").allTextContents();
      expect(tradelineTitles.some((t) => t.includes(institutionAt(0).name))).toBe(true);
      expect(tradelineTitles.some((t) => t.includes(institutionAt(1).name))).toBe(true);
      expect(await page.locator(`tr.holder[data-institution="${DOWN.id}"]`).textContent()).toContain(DOWN.name);

      mkdirSync(OUT_DIR, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  });

  it("in a terminal (tmux): ingest shows its progress, and the text report opens with the INCOMPLETE banner", { timeout: 180_000 }, async () => {
    const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
    const socket = `cm-screens-${process.pid}`;
    try {
      execFileSync("tmux", ["-V"]);
    } catch {
      throw new Error("tmux is missing: apt-get install -y tmux");
    }
    const rows = [csvHeader()];
    for (let i = 0; i < 3000; i++) rows.push(formatCsvRecord(account({ accountId: `TTY-${i}`, idNumber: residentId("19800101", i % 1000, ["110105", "310104", "440305"][Math.floor(i / 1000)]) })));
    const file = path.join(net.layout.dir, "tty.csv");
    writeFileSync(file, rows.join("\n") + "\n");
    const creditmesh = `${process.execPath} --import tsx ${path.join(REPO_ROOT, "src/cli/main.ts")}`;

    const screen = () => tmux("capture-pane", "-p", "-J", "-S", "-500", "-t", "cm");
    const waitFor = async (pattern: RegExp): Promise<string> => {
      // Generous: the machine may be loaded; the check is what the screen shows, not when.
      for (let i = 0; i < 1200; i++) {
        const text = screen();
        if (pattern.test(text)) return text;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`the screen never showed ${pattern}:\n${screen()}`);
    };

    tmux("new-session", "-d", "-s", "cm", "-x", "150", "-y", "50", "-c", REPO_ROOT, "sh");
    try {
      tmux("send-keys", "-t", "cm", `${creditmesh} ingest ${file} --config ${lender.layout.configFile}; echo "ingest exit $?"`, "Enter");
      const ingested = await waitFor(/ingest exit \d+/);
      expect(ingested).toMatch(/3000\/3000 records/);
      expect(ingested).toContain("accepted 3000, rejected 0");
      expect(ingested).toContain("ingest exit 0");

      tmux("send-keys", "-t", "cm", "clear", "Enter");
      const args = reportArgs().map((a) => `'${a}'`).join(" ");
      tmux("send-keys", "-t", "cm", `${creditmesh} ${args} --format text; echo "report exit $?"`, "Enter");
      const screenText = await waitFor(/report exit \d+/);
      expect(screenText).toContain("report exit 0");
      // What the command printed: the lines after the typed command (which names the borrower in full).
      const all = screenText.split("\n");
      const lines = all.slice(all.findIndex((l) => l.includes("--format text; echo")) + 1);
      const shown = lines.join("\n");
      const bannerLine = lines.findIndex((l) => BANNER.test(l));
      const scoreLine = lines.findIndex((l) => l.startsWith("SCORE"));
      expect(bannerLine, shown).toBeGreaterThanOrEqual(0);
      expect(scoreLine).toBeGreaterThan(bannerLine);
      expect(lines[scoreLine]).toMatch(/PARTIAL DATA|not scorable/);
      expect(shown).toContain(`Borrower`);
      expect(shown).toContain(`${ID.slice(0, 6)}********${ID.slice(-4)}`);
      expect(shown).not.toContain(ID);
      expect(shown).toContain(institutionAt(1).name);
    } finally {
      try {
        tmux("kill-server");
      } catch {
        // already gone
      }
    }
  });
});
