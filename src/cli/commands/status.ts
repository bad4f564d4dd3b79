import type { Command } from "commander";
import { GetNodeStatusResponse } from "../../gen/creditmesh/v1/node.js";
import { call, connect } from "../client.js";
import { addClientOptions, type ClientFlags } from "../options.js";

export function registerStatus(program: Command): void {
  addClientOptions(program.command("status").description("show the node's identity, members and record counts")).action(
    async (opts: ClientFlags) => {
      const conn = connect(opts);
      try {
        const status = await call(conn, conn.client.getNodeStatus, {}, 10_000);
        process.stdout.write(JSON.stringify(GetNodeStatusResponse.toJSON(status), null, 2) + "\n");
      } finally {
        conn.close();
      }
    },
  );
}
