import { statSync } from "node:fs";
import type { Metadata } from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import { systemClock, type Clock } from "../clock.js";
import { apiKeyMatches, readSecrets, type ApiRole } from "../config/secrets.js";
import { watchFileChanges } from "../config/watch-file.js";
import { CreditMeshError } from "../errors.js";

export interface Principal {
  keyId: string;
  roles: ReadonlySet<ApiRole>;
}

interface KeyEntry {
  id: string;
  sha256: string;
  roles: ApiRole[];
  expiresAt?: string;
}

/** A remembered key: its principal, and when it stops being accepted (ms; Infinity = never). */
interface CachedKey {
  principal: Principal;
  expiresAtMs: number;
}

/** What a gRPC call carries that can identify its client. */
export interface CallCredentials {
  metadata: Metadata;
  /** grpc-js server calls: the TLS peer certificate, when the client presented one. */
  getAuthContext?(): { sslPeerCertificate?: PeerCertificate } | null;
}

/**
 * Who is calling. An API key (`authorization: Bearer <key>`) from the secrets
 * file (hashes only) decides when present. `creditmesh apikey create` and
 * `revoke` change that file while the node runs: while started, a change
 * drops every remembered key at once (a revoked key stops working within
 * moments), and an unknown key triggers one re-read when the file changed.
 * A key past its `expiresAt` is refused (AUTH_EXPIRED_KEY), remembered or not.
 * Without a key, a client certificate the TLS layer verified (mutual TLS)
 * authenticates by its subject CN, if `certRoles` lists it.
 */
export class ClientAuth {
  private keys: KeyEntry[] = [];
  private mtimeMs = -1;
  /** Raw key → principal, so the hash comparison runs once per key. */
  private readonly cache = new Map<string, CachedKey>();
  private unwatch?: () => void;

  constructor(
    private readonly secretsFile: string,
    private readonly certRoles: Readonly<Record<string, readonly ApiRole[]>> = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.reload();
  }

  start(): void {
    this.unwatch ??= watchFileChanges(this.secretsFile, () => this.invalidate());
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Forgets what was read; a secrets file that cannot be read then admits no API key (fails closed). */
  private invalidate(): void {
    this.cache.clear();
    this.mtimeMs = -1;
    try {
      this.reload();
    } catch {
      this.keys = [];
    }
  }

  private reload(): void {
    const mtimeMs = statSync(this.secretsFile).mtimeMs;
    if (mtimeMs === this.mtimeMs) return;
    this.keys = readSecrets(this.secretsFile).apiKeys;
    this.mtimeMs = mtimeMs;
    this.cache.clear();
  }

  authenticate(call: CallCredentials): Principal {
    const header = call.metadata.get("authorization")[0];
    if (typeof header !== "string" || !header) {
      const byCert = this.fromCertificate(call);
      if (byCert) return byCert;
      throw new CreditMeshError(
        "AUTH_MISSING_KEY",
        "missing API key: send `authorization: Bearer <key>` metadata" +
          (Object.keys(this.certRoles).length ? " or a client certificate whose CN is in grpc.tls.clientRoles" : ""),
      );
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw new CreditMeshError("AUTH_MISSING_KEY", "authorization metadata must be `Bearer <key>`");
    const key = match[1]!;
    let entry = this.cache.get(key);
    if (!entry) {
      let found = this.find(key);
      if (!found) {
        this.reload();
        found = this.find(key);
      }
      if (!found) throw new CreditMeshError("AUTH_UNKNOWN_KEY", "unknown API key");
      entry = { principal: { keyId: found.id, roles: new Set(found.roles) }, expiresAtMs: found.expiresAt ? Date.parse(found.expiresAt) : Infinity };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, entry);
    }
    if (this.clock.now().getTime() >= entry.expiresAtMs) {
      throw new CreditMeshError("AUTH_EXPIRED_KEY", `API key ${entry.principal.keyId} expired at ${new Date(entry.expiresAtMs).toISOString()}`);
    }
    return entry.principal;
  }

  private fromCertificate(call: CallCredentials): Principal | undefined {
    // grpc-js only reports a peer certificate that passed verification against grpc.tls.clientCaFile.
    const cn = call.getAuthContext?.()?.sslPeerCertificate?.subject?.CN;
    if (typeof cn !== "string" || !Object.hasOwn(this.certRoles, cn)) return undefined;
    return { keyId: `cert:${cn}`, roles: new Set(this.certRoles[cn]) };
  }

  private find(key: string): KeyEntry | undefined {
    return this.keys.find((k) => apiKeyMatches(key, k.sha256));
  }
}

export function requireRole(principal: Principal, ...anyOf: ApiRole[]): void {
  if (!anyOf.some((r) => principal.roles.has(r))) {
    throw new CreditMeshError("AUTH_ROLE", `this API key lacks the role needed here (${anyOf.join(" or ")})`);
  }
}
