import { describe, expect, it } from "vitest";
import { NodeKey } from "../../../src/identity/node-key.js";
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from "../../../src/tlog/checkpoint.js";
import { addCosignatures, cosign, countCosignatures, verifyCosignature } from "../../../src/tlog/cosignature.js";
import { treeHash, leafHash } from "../../../src/tlog/merkle.js";
import {
  SIG_COSIGNATURE_V1,
  type NoteSigner,
  openNote,
  parseNote,
  parseVerifierKey,
  signNote,
  verifierKey,
} from "../../../src/tlog/note.js";

// The example key and note of Go's golang.org/x/mod/sumdb/note documentation.
const GO_SKEY_SEED = Buffer.from("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "base64").subarray(1);
const GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_NOTE =
  "If you think cryptography is the answer to your problem,\n" +
  "then you don't know what your problem is.\n" +
  "\n" +
  "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

function signer(name: string, seedByte: number): NoteSigner & { key: NodeKey } {
  const key = NodeKey.fromSeed(new Uint8Array(32).fill(seedByte));
  return { name, publicKey: key.publicKey, sign: (d) => key.sign(d), key };
}

describe("signed notes", () => {
  it("derive the same verifier key and signature as Go's sumdb/note example", () => {
    const key = NodeKey.fromSeed(GO_SKEY_SEED);
    expect(verifierKey("PeterNeumann", key.publicKey)).toBe(GO_VKEY);
    const text = GO_NOTE.slice(0, GO_NOTE.indexOf("\n\n") + 1);
    expect(signNote(text, { name: "PeterNeumann", publicKey: key.publicKey, sign: (d) => key.sign(d) })).toBe(GO_NOTE);
    expect(openNote(GO_NOTE, parseVerifierKey(GO_VKEY)).text).toBe(text);
  });

  it("read back verifier keys whose base64 holds '+'", () => {
    let seen = 0;
    for (let seed = 0; seen < 3 && seed < 200; seed++) {
      const key = NodeKey.fromSeed(new Uint8Array(32).fill(seed));
      const vkey = verifierKey("bank-a", key.publicKey);
      if (vkey.split("+").length === 3) continue; // no "+" inside the base64
      seen++;
      expect(Buffer.from(parseVerifierKey(vkey).publicKey)).toEqual(Buffer.from(key.publicKey));
    }
    expect(seen).toBe(3);
  });

  it("refuse a changed text, a foreign key and malformed verifier keys", () => {
    const v = parseVerifierKey(GO_VKEY);
    expect(() => openNote(GO_NOTE.replace("answer", "question"), v)).toThrow(expect.objectContaining({ code: "SIGNATURE_INVALID" }));
    const other = signer("PeterNeumann", 7);
    expect(() => openNote(GO_NOTE, parseVerifierKey(verifierKey("PeterNeumann", other.publicKey)))).toThrow(
      expect.objectContaining({ code: "SIGNATURE_INVALID" }),
    );
    expect(() => parseVerifierKey(GO_VKEY.replace("c74f20a3", "c74f20a4"))).toThrow(expect.objectContaining({ field: "vkey" }));
    expect(() => parseVerifierKey("a+b")).toThrow(expect.objectContaining({ field: "vkey" }));
    expect(() => signNote("no newline", other)).toThrow(expect.objectContaining({ field: "note" }));
    expect(() => parseNote("text\n\nnot a signature\n")).toThrow(expect.objectContaining({ field: "note.signatures[0]" }));
  });
});

describe("checkpoints", () => {
  const log = signer("bank-a", 1);
  const root = treeHash([leafHash(Buffer.from("x"))]);

  it("round-trip through the C2SP text and verify with the log's vkey", () => {
    const note = signCheckpoint({ origin: "bank-a", size: 1, root }, log);
    expect(note.split("\n").slice(0, 3)).toEqual(["bank-a", "1", Buffer.from(root).toString("base64")]);
    const { checkpoint } = openCheckpoint(note, parseVerifierKey(verifierKey("bank-a", log.publicKey)), "bank-a");
    expect(checkpoint.size).toBe(1);
    expect(Buffer.from(checkpoint.root).equals(Buffer.from(root))).toBe(true);
    expect(() => openCheckpoint(note, parseVerifierKey(verifierKey("bank-a", log.publicKey)), "bank-b")).toThrow(
      expect.objectContaining({ field: "checkpoint.origin" }),
    );
  });

  it("refuse sizes with leading zeroes, short roots and missing lines, naming the field", () => {
    const r = Buffer.from(root).toString("base64");
    expect(() => parseCheckpoint(`o\n01\n${r}\n`)).toThrow(expect.objectContaining({ field: "checkpoint.size" }));
    expect(() => parseCheckpoint(`o\n1\nAAAA\n`)).toThrow(expect.objectContaining({ field: "checkpoint.root" }));
    expect(() => parseCheckpoint(`o\n1\n`)).toThrow(expect.objectContaining({ field: "checkpoint.text" }));
    expect(() => formatCheckpoint({ origin: "a\nb", size: 1, root })).toThrow(expect.objectContaining({ field: "checkpoint.origin" }));
    expect(parseCheckpoint(`o\n1\n${r}\next one\n`).extensions).toEqual(["ext one"]);
  });
});

describe("cosignatures", () => {
  const log = signer("bank-a", 1);
  const w1 = signer("bank-b", 2);
  const w2 = signer("bank-c", 3);
  const root = treeHash([leafHash(Buffer.from("x"))]);
  const note = signCheckpoint({ origin: "bank-a", size: 1, root }, log);
  const text = note.slice(0, note.indexOf("\n\n") + 1);
  const v1 = parseVerifierKey(verifierKey("bank-b", w1.publicKey, SIG_COSIGNATURE_V1));
  const v2 = parseVerifierKey(verifierKey("bank-c", w2.publicKey, SIG_COSIGNATURE_V1));

  it("carry the timestamp, count towards the quorum, and leave the log signature valid", () => {
    const cosigned = addCosignatures(note, [cosign(text, w1, 1_700_000_000), cosign(text, w2, 1_700_000_005)]);
    expect(verifyCosignature(cosigned, v1)).toBe(1_700_000_000);
    expect(verifyCosignature(cosigned, v2)).toBe(1_700_000_005);
    expect(countCosignatures(cosigned, [v1, v2])).toBe(2);
    expect(countCosignatures(note, [v1, v2])).toBe(0);
    expect(openCheckpoint(cosigned, parseVerifierKey(verifierKey("bank-a", log.publicKey))).checkpoint.size).toBe(1);
    // A newer cosignature by the same witness replaces the older one.
    const again = addCosignatures(cosigned, [cosign(text, w1, 1_700_000_100)]);
    expect(parseNote(again).signatures).toHaveLength(3);
    expect(verifyCosignature(again, v1)).toBe(1_700_000_100);
  });

  it("sign a different message than the note key (key type 0x04 and the cosignature/v1 header)", () => {
    const line = cosign(text, w1, 5);
    // The same key as a plain note key does not accept the cosignature.
    const asNote = parseVerifierKey(verifierKey("bank-b", w1.publicKey));
    expect(() => openNote(`${text}\n${line}`, asNote)).toThrow(expect.objectContaining({ code: "SIGNATURE_INVALID" }));
    const forged = addCosignatures(note, [line.replace(/ (\S+)\n$/, (_m, b64: string) => {
      const bytes = Buffer.from(b64, "base64");
      bytes[11]! ^= 1; // the timestamp's last byte
      return ` ${bytes.toString("base64")}\n`;
    })]);
    expect(() => verifyCosignature(forged, v1)).toThrow(expect.objectContaining({ code: "SIGNATURE_INVALID" }));
    expect(countCosignatures(forged, [v1])).toBe(0);
  });
});
