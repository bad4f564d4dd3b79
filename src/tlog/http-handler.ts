import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../logger.js";
import type { LogStore } from "./log-store.js";
import { TILE_WIDTH, bundlePrefix, parseTilePath } from "./tiles.js";

/** Full tiles and bundles never change; partial ones are replaced as the log grows. */
const IMMUTABLE = "public, max-age=31536000, immutable";
const SHORT = "no-cache";

/**
 * Serves the log read-only at the C2SP tlog-tiles paths: `/checkpoint`,
 * `/tile/<L>/<N>[.p/<W>]`, `/tile/entries/<N>[.p/<W>]`. Returns false for
 * any other path, so it can sit in front of another handler (the metrics
 * server's): `if (serveLog(req, res)) return;`.
 */
export function createLogHttpHandler(
  store: LogStore,
  opts: { logger?: Logger; prefix?: string } = {},
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const prefix = opts.prefix ?? "";
  return (req, res) => {
    const url = (req.url ?? "").split("?")[0]!;
    if (!url.startsWith(`${prefix}/`)) return false;
    const path = url.slice(prefix.length + 1);
    const isCheckpoint = path === "checkpoint";
    const tile = isCheckpoint ? undefined : parseTilePath(path);
    if (!isCheckpoint && tile === undefined) {
      if (!path.startsWith("tile/")) return false;
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("no such tile path\n");
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return true;
    }
    const send = (status: number, body: Uint8Array | string, type: string, cache: string): void => {
      res.writeHead(status, { "content-type": type, "cache-control": cache, "content-length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    const notFound = (): void => send(404, "not found\n", "text/plain; charset=utf-8", SHORT);
    const answer = async (): Promise<void> => {
      if (isCheckpoint) {
        const note = await store.checkpoint();
        if (note === undefined) return notFound();
        return send(200, note, "text/plain; charset=utf-8", SHORT);
      }
      const cache = tile!.width === TILE_WIDTH ? IMMUTABLE : SHORT;
      if (tile!.kind === "tile") {
        const [data] = await store.tiles([tile!.tile]);
        // A stored tile at least as wide holds the asked hashes unchanged (they are immutable once written).
        if (data === undefined || data.length < tile!.width * 32) return notFound();
        if (tile!.width === TILE_WIDTH && data.length !== TILE_WIDTH * 32) return notFound();
        return send(200, data.subarray(0, tile!.width * 32), "application/octet-stream", cache);
      }
      const bundle = await store.bundle(tile!.index);
      const body = bundle === undefined ? undefined : bundlePrefix(bundle, tile!.width);
      if (body === undefined) return notFound();
      return send(200, body, "application/octet-stream", cache);
    };
    answer().catch((err: unknown) => {
      opts.logger?.error({ err, path }, "serving the log failed");
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
    return true;
  };
}
