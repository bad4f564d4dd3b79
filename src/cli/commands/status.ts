import type { Command } from "commander";
import { GetNodeStatusResponse } from "../../gen/creditmesh/v1/node.js";
import { call, connect } from "../client.js";
import { printJson } from "../print-json.js";
import { addClientOptions, type ClientFlags } from "../options.js";

export function registerStatus(program: Command): void {
  addClientOptions(program.command("status").description("show the node's identity, members and record counts")).action(
    async (opts: ClientFlags) => {
      const conn = connect(opts);
      try {
        const status = await call(conn, conn.client.getNodeStatus, {}, 10_000);
        process.stdout.write(printJson(GetNodeStatusResponse, "creditmesh.v1.GetNodeStatusResponse", status));
      } finally {
        conn.close();
      }
    },
  );
}
