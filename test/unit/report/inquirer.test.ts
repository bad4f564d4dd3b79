import { describe, expect, it } from "vitest";
import { InquirerPseudonyms, isInquirerPseudonym } from "../../../src/report/inquirer.js";

const key = Buffer.alloc(32, 7);
const subject1 = "a".repeat(64);
const subject2 = "b".repeat(64);

describe("InquirerPseudonyms", () => {
  it("is the same for one subject and institution wherever it is computed with the network key", () => {
    const p = new InquirerPseudonyms(key).of(subject1, "bank-d");
    expect(new InquirerPseudonyms(Buffer.from(key)).of(subject1, "bank-d")).toBe(p);
    expect(p).toMatch(/^anon:[0-9a-f]{64}$/);
    expect(isInquirerPseudonym(p)).toBe(true);
    expect(isInquirerPseudonym("bank-d")).toBe(false);
  });

  it("differs per institution, per subject and per key, and carries no part of the id", () => {
    const ps = new InquirerPseudonyms(key);
    const p = ps.of(subject1, "bank-d");
    expect(ps.of(subject1, "bank-a")).not.toBe(p);
    expect(ps.of(subject2, "bank-d")).not.toBe(p);
    expect(new InquirerPseudonyms(Buffer.alloc(32, 8)).of(subject1, "bank-d")).not.toBe(p);
    expect(p.includes("bank")).toBe(false);
  });

  it("refuses a short key", () => {
    expect(() => new InquirerPseudonyms(Buffer.alloc(8))).toThrow(/at least 16 bytes/);
  });

  it("without a network key, is derived from the subject token alone: equal at every holder, differing per subject and institution, and not the keyed one", () => {
    const p = new InquirerPseudonyms().of(subject1, "bank-d");
    expect(new InquirerPseudonyms().of(subject1, "bank-d")).toBe(p);
    expect(p).toMatch(/^anon:[0-9a-f]{64}$/);
    expect(new InquirerPseudonyms().of(subject2, "bank-d")).not.toBe(p);
    expect(new InquirerPseudonyms().of(subject1, "bank-a")).not.toBe(p);
    expect(new InquirerPseudonyms(key).of(subject1, "bank-d")).not.toBe(p);
  });
});
