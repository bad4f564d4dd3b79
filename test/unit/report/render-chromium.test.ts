import { existsSync, mkdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountStatus, ProductType } from "../../../src/gen/creditmesh/v1/common.js";
import { assembleReport } from "../../../src/report/assemble.js";
import { renderHtml } from "../../../src/report/render-html.js";
import { answer, history, scenario, signedResult, tradeline } from "./fixtures.js";

const CHROMIUM = "/usr/bin/chromium";

/** The browser's own, for code that runs in the page (the project compiles without DOM types). */
declare const getComputedStyle: (element: unknown) => { backgroundColor: string };
const OUT_DIR = resolve("test-output");
const SCREENSHOT = resolve(OUT_DIR, "report.png");

/** The subject's own report, with one account at each stage of delinquency to show every colour. */
function richReport() {
  const { input, members } = scenario();
  const chargedOff = tradeline({
    institutionId: "lender-c",
    accountRef: "c-cash",
    productType: ProductType.CASH_LOAN,
    openedOn: "2024-01-20",
    creditLimit: "300000",
    balance: "310000",
    amountPastDue: "310000",
    status: AccountStatus.CHARGED_OFF,
    paymentHistory: history("6665432100000DDE00", "B"),
    maxDaysPastDue: 240,
  });
  const holders = [
    ...input.holders.filter((h) => h.outcome.institutionId !== "lender-c"),
    signedResult(members.c, answer({ holderInstitutionId: "lender-c", tradelines: [chargedOff] }), 22),
  ];
  return assembleReport({ ...input, holders, audience: "SUBJECT" });
}

describe("HTML report in headless Chromium", () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("shows score, reasons and the payment grid, fetches nothing, and saves a screenshot", async () => {
    const report = richReport();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.setContent(renderHtml(report), { waitUntil: "load" });

    const score = page.locator(".score-value");
    await expect.poll(() => score.isVisible()).toBe(true);
    expect(await score.textContent()).toBe(String(report.score!.value));
    expect(await page.locator("svg.gauge line.needle").isVisible()).toBe(true);

    const reasons = page.locator("li.reason");
    expect(await reasons.count()).toBe(report.score!.reasons.length);
    expect(report.score!.reasons.length).toBeGreaterThan(0);
    for (let i = 0; i < report.score!.reasons.length; i++) {
      expect(await reasons.nth(i).isVisible()).toBe(true);
      expect(await reasons.nth(i).textContent()).toContain(report.score!.reasons[i].text);
    }

    const cells = page.locator("table.grid td.ph");
    expect(await cells.count()).toBe(24 * report.tradelines.length);
    for (const code of ["0", "1", "2", "3", "4", "5", "6", "B", "D", "E"]) {
      const cell = page.locator(`table.grid td.ph-${code}`).first();
      expect(await cell.isVisible(), code).toBe(true);
    }
    // colours come from the inline stylesheet, so they are really applied
    const colour = (code: string) =>
      page.locator(`table.grid td.ph-${code}`).first().evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(await colour("0")).toBe("rgb(46, 125, 50)");
    expect(await colour("6")).not.toBe(await colour("0"));

    expect(await page.locator("tr.inquiry").count()).toBe(2);
    expect(await page.locator("tr.holder").count()).toBe(4);
    expect(requests.filter((u) => !u.startsWith("data:") && u !== "about:blank")).toEqual([]);

    mkdirSync(OUT_DIR, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    await page.close();
  });
});
