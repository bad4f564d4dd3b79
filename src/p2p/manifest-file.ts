import { watchFileChanges } from "../config/watch-file.js";
import { readManifestFile } from "../identity/manifest.js";
import type { Logger } from "../logger.js";
import type { PeerNode, PeerService } from "./peer-node.js";

/**
 * The operator publishes a new manifest by replacing one member's manifest
 * file; that node applies it (if newer and validly signed) and gossips it.
 */
export class ManifestFileWatch implements PeerService {
  #unwatch: (() => void) | undefined;

  constructor(
    private readonly file: string,
    private readonly c: { peer: Pick<PeerNode, "applyManifest" | "membership">; logger: Logger },
  ) {}

  start(): void {
    if (this.#unwatch) return;
    const { peer, logger } = this.c;
    this.#unwatch = watchFileChanges(
      this.file,
      () => {
        readManifestFile(this.file)
          .then((signed) => peer.applyManifest(signed))
          .then((applied) => {
            if (applied) logger.info({ version: peer.membership.version.toString() }, "newer manifest from file applied");
          })
          .catch((err) => logger.warn({ err: (err as Error).message }, "manifest file not applied"));
      },
      { onError: (err) => logger.warn({ err: err.message }, "watching the manifest file failed") },
    );
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }
}
