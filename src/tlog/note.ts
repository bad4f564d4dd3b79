import { createHash } from "node:crypto";
import { CreditMeshError } from "../errors.js";
import { ed25519Verify } from "../identity/ed25519.js";

/**
 * C2SP signed-note (c2sp.org/signed-note): a UTF-8 text, a blank line, and
 * signature lines `— <key name> base64(key id ‖ signature)`. Signature type
 * 0x01 is plain Ed25519 (a log's checkpoint), 0x04 a timestamped
 * cosignature/v1 (a witness).
 */
export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

const DASH = "\u2014 ";
const MAX_SIGNATURES = 100;

/** What signs: the node key fits (its sign() is Ed25519 over the given bytes). */
export interface NoteSigner {
  readonly name: string;
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}

export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
  /** The signature bytes after the key id (for a cosignature: timestamp ‖ signature). */
  sig: Uint8Array;
}

export interface Note {
  text: string;
  signatures: NoteSignature[];
}

/** A verifier key: who may have signed, and how to check it. */
export interface NoteVerifier {
  name: string;
  type: number;
  publicKey: Uint8Array;
  keyId: Uint8Array;
}

const malformed = (reason: string, field = "note"): CreditMeshError =>
  new CreditMeshError("VALIDATION_FAILED", `${field}: ${reason}`, { field });

export function checkKeyName(name: string, field = "key_name"): string {
  if (typeof name !== "string" || name.length === 0) throw malformed("must not be empty", field);
  // The vkey uses "+" as separator; a space or newline would break signature lines.
  if (/[\s+]/u.test(name) || /\p{Cc}/u.test(name)) throw malformed("must not contain spaces, newlines or '+'", field);
  return name;
}

/** SHA-256(name ‖ "\n" ‖ type ‖ public key)[:4] — the same for every note format. */
export function keyId(name: string, type: number, publicKey: Uint8Array): Uint8Array {
  return createHash("sha256")
    .update(name, "utf8")
    .update(Buffer.from([0x0a, type]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** `name+hex(key id)+base64(type ‖ public key)`, as Go's sumdb/note reads it. */
export function verifierKey(name: string, publicKey: Uint8Array, type = SIG_ED25519): string {
  checkKeyName(name);
  if (publicKey.length !== 32) throw malformed("must be 32 bytes", "public_key");
  const id = Buffer.from(keyId(name, type, publicKey)).toString("hex");
  return `${name}+${id}+${Buffer.concat([Buffer.from([type]), publicKey]).toString("base64")}`;
}

export function parseVerifierKey(vkey: string): NoteVerifier {
  // The base64 key may itself hold "+": only the first two separate fields.
  const m = typeof vkey === "string" ? /^([^+]+)\+([^+]*)\+(.*)$/s.exec(vkey) : null;
  if (!m) throw malformed("must be name+keyid+key", "vkey");
  const [, name, idHex, keyB64] = m as unknown as [string, string, string, string];
  checkKeyName(name, "vkey");
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw malformed("key id must be 8 lowercase hex digits", "vkey");
  const key = strictBase64(keyB64);
  if (key === undefined || key.length !== 33) throw malformed("key must be base64 of 33 bytes", "vkey");
  const type = key[0]!;
  if (type !== SIG_ED25519 && type !== SIG_COSIGNATURE_V1) throw malformed(`unsupported key type ${type}`, "vkey");
  const publicKey = key.subarray(1);
  const id = keyId(name, type, publicKey);
  if (Buffer.from(id).toString("hex") !== idHex) throw malformed("key id does not match the key", "vkey");
  return { name, type, publicKey, keyId: id };
}

/** Base64 that round-trips (Node's decoder silently skips junk). */
export function strictBase64(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  const b = Buffer.from(s, "base64");
  return b.toString("base64") === s ? b : undefined;
}

function checkText(text: string): void {
  if (!text.endsWith("\n")) throw malformed("text must end with a newline");
  // Control characters other than newline are refused (c2sp.org/signed-note).
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)) throw malformed("text must not contain control characters");
}

export function signatureLine(name: string, keyIdBytes: Uint8Array, sig: Uint8Array): string {
  return `${DASH}${name} ${Buffer.concat([keyIdBytes, sig]).toString("base64")}\n`;
}

/** Signs `text` with an Ed25519 note key (type 0x01): the whole note, text + blank line + one signature. */
export function signNote(text: string, signer: NoteSigner): string {
  checkText(text);
  checkKeyName(signer.name);
  const sig = signer.sign(Buffer.from(text, "utf8"));
  return `${text}\n${signatureLine(signer.name, keyId(signer.name, SIG_ED25519, signer.publicKey), sig)}`;
}

export function parseNote(note: string): Note {
  if (typeof note !== "string") throw malformed("must be text");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw malformed("has no signature block");
  const text = note.slice(0, split + 1);
  checkText(text);
  const block = note.slice(split + 2);
  if (!block.endsWith("\n")) throw malformed("signature block must end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line, i): NoteSignature => {
    const field = `note.signatures[${i}]`;
    if (!line.startsWith(DASH)) throw malformed("must start with an em dash and a space", field);
    const rest = line.slice(DASH.length);
    const space = rest.lastIndexOf(" ");
    if (space <= 0) throw malformed("must be '— name base64'", field);
    const name = checkKeyName(rest.slice(0, space), field);
    const bytes = strictBase64(rest.slice(space + 1));
    if (bytes === undefined || bytes.length < 5) throw malformed("signature must be base64 of key id and signature", field);
    return { name, keyId: bytes.subarray(0, 4), sig: bytes.subarray(4) };
  });
  return { text, signatures };
}

function matches(sig: NoteSignature, v: NoteVerifier): boolean {
  return sig.name === v.name && Buffer.compare(sig.keyId, v.keyId) === 0;
}

/**
 * Opens a note signed by `verifier` (type 0x01): throws SIGNATURE_INVALID
 * when that key's signature is missing or wrong; other signatures are left
 * for their own verifiers (cosignatures).
 */
export function openNote(note: string, verifier: NoteVerifier): Note {
  const parsed = parseNote(note);
  if (verifier.type !== SIG_ED25519) throw malformed("must be an Ed25519 note key (type 1)", "vkey");
  const mine = parsed.signatures.filter((s) => matches(s, verifier));
  if (mine.length === 0) throw new CreditMeshError("SIGNATURE_INVALID", `note is not signed by ${verifier.name}`);
  for (const s of mine) {
    if (s.sig.length !== 64 || !ed25519Verify(Buffer.from(parsed.text, "utf8"), s.sig, verifier.publicKey)) {
      throw new CreditMeshError("SIGNATURE_INVALID", `signature of ${verifier.name} does not verify`);
    }
  }
  return parsed;
}

/** The note with its signatures, as text again (signatures in the given order). */
export function formatNote(note: Note): string {
  return `${note.text}\n${note.signatures.map((s) => signatureLine(s.name, s.keyId, s.sig)).join("")}`;
}
