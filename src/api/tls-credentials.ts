import { experimental, ServerCredentials } from "@grpc/grpc-js";
import { isCreditMeshError } from "../errors.js";
import { loadTlsMaterial, type GrpcTlsConfig, type TlsMaterial } from "../config/tls.js";
import { watchFileChanges } from "../config/watch-file.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Time for an operator's replacement of certificate and key to finish before they are read. */
const SETTLE_MS = 500;

/**
 * The gRPC server's certificate, key and client CA, replaced without a
 * restart when their files change. A new set is taken only once it passes
 * the same checks as at start (the key the certificate's own, the
 * certificate current); otherwise the node keeps serving the one it has and
 * logs why. Connections already open keep the certificate they began with.
 */
export class ReloadingTlsCredentials implements experimental.CertificateProvider {
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();
  private readonly unwatch: Array<() => void> = [];

  constructor(
    private readonly tls: GrpcTlsConfig,
    private material: TlsMaterial,
    private readonly logger: Logger,
    private readonly metrics: Metrics | null = null,
  ) {}

  /** Server credentials backed by this provider: TLS, mutual when a client CA is configured. */
  serverCredentials(): ServerCredentials {
    // grpc-js passes the first provider on as the identity one; this object serves both roles.
    return experimental.createCertificateProviderServerCredentials(this, this.material.clientCa ? this : null, this.material.clientCa !== undefined);
  }

  start(): void {
    if (this.unwatch.length) return;
    const files = new Set([this.tls.certFile, this.tls.keyFile, ...(this.tls.clientCaFile ? [this.tls.clientCaFile] : [])]);
    for (const file of files) {
      this.unwatch.push(
        watchFileChanges(file, () => this.reload(), {
          settleMs: SETTLE_MS,
          onError: (err) => this.logger.warn({ err: err.message, file }, "watching a TLS file failed"),
        }),
      );
    }
  }

  stop(): void {
    for (const stop of this.unwatch.splice(0)) stop();
  }

  /** Re-reads the files and serves them if they pass and differ from what is served. */
  private reload(): void {
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.tls);
    } catch (err) {
      const field = isCreditMeshError(err) ? err.field : undefined;
      this.logger.warn({ field, err: (err as Error).message }, "new TLS files refused; still serving the previous certificate");
      this.metrics?.tlsReloads.inc({ outcome: "refused" });
      return;
    }
    // clientCaFile is fixed by the config: both sets have a client CA or neither has.
    const same = next.cert.equals(this.material.cert) && next.key.equals(this.material.key) && (!next.clientCa || next.clientCa.equals(this.material.clientCa!));
    if (same) return;
    this.material = next;
    for (const listener of this.identityListeners) listener(this.identityUpdate());
    for (const listener of this.caListeners) listener(this.caUpdate());
    this.logger.info("TLS certificate reloaded");
    this.metrics?.tlsReloads.inc({ outcome: "applied" });
  }

  private identityUpdate(): experimental.IdentityCertificateUpdate {
    return { certificate: this.material.cert, privateKey: this.material.key };
  }

  private caUpdate(): experimental.CaCertificateUpdate | null {
    return this.material.clientCa ? { caCertificate: this.material.clientCa } : null;
  }

  // grpc-js registers its own watcher only after adding these listeners: answer on the next tick.
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => this.identityListeners.has(listener) && listener(this.identityUpdate()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => this.caListeners.has(listener) && listener(this.caUpdate()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
}
