import type { Command } from "commander";
import { invalid } from "../../errors.js";
import { RotateDataKeyResponse } from "../../gen/creditmesh/v1/node.js";
import { call, connect } from "../client.js";
import { printJson } from "../print-json.js";
import { addClientOptions, type ClientFlags } from "../options.js";

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("manage the node's data-encryption keys");
  addClientOptions(
    keys
      .command("rotate")
      .description(
        "generate a new data key, re-encrypt every stored identity under it while the node keeps serving, then retire the old keys; " +
          "prints the new key id, the records re-encrypted and the retired key ids",
      ),
  )
    .option("--timeout-ms <ms>", "how long to wait for the node to finish", "3600000")
    .action(async (opts: ClientFlags & { timeoutMs: string }) => {
      const timeoutMs = Number(opts.timeoutMs);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw invalid("timeout_ms", "must be a positive integer");
      const conn = connect(opts);
      try {
        const rotated = await call(conn, conn.client.rotateDataKey, {}, timeoutMs);
        process.stdout.write(printJson(RotateDataKeyResponse, "creditmesh.v1.RotateDataKeyResponse", rotated));
      } finally {
        conn.close();
      }
    });
}
