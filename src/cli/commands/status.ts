import type { Command } from "commander";
import { invalid } from "../../errors.js";
import { GetNodeStatusResponse, type MemberFilterStatus } from "../../gen/creditmesh/v1/node.js";
import { call, connect } from "../client.js";
import { printJson } from "../print-json.js";
import { addClientOptions, type ClientFlags } from "../options.js";
import { renderTable } from "../table.js";

export function registerStatus(program: Command): void {
  addClientOptions(program.command("status").description("show the node's identity, members and record counts"))
    .option("--format <format>", "json, or text: a line per member with how reports route to it", "json")
    .action(async (opts: ClientFlags & { format: string }) => {
      const format = opts.format.toLowerCase();
      if (format !== "text" && format !== "json") throw invalid("format", `must be text or json, got ${opts.format}`);
      const conn = connect(opts);
      try {
        const status = await call(conn, conn.client.getNodeStatus, {}, 10_000);
        process.stdout.write(format === "text" ? renderStatus(status, new Date()) : printJson(GetNodeStatusResponse, "creditmesh.v1.GetNodeStatusResponse", status));
      } finally {
        conn.close();
      }
    });
}

/**
 * `creditmesh status --format text`: the node, then one line per member with
 * how this node's reports route to it. The rest (log evidence notes, roles,
 * peer ids of members) is in the JSON.
 */
export function renderStatus(s: GetNodeStatusResponse, now: Date): string {
  const lines: string[] = [];
  lines.push(`${s.institutionId}  peer ${s.peerId}  version ${s.version}`);
  if (s.networkId) {
    const committee = s.tokenCommitteeEpoch !== "0" ? `token committee epoch ${s.tokenCommitteeEpoch}${s.tokenEvaluator ? " (this node evaluates)" : ""}` : "no token committee";
    lines.push(`network ${s.networkId} v${s.manifestVersion}  ${committee}`);
  }
  lines.push(`accounts ${s.accounts}  subjects ${s.subjects}`);
  const f = s.publishedFilter;
  if (f) lines.push(`publishes filter epoch ${f.epoch}${f.builtAt ? ` (built ${ago(f.builtAt, now)})` : ""}, count ${f.count} (padded), ${f.filterBytes} bytes, ${f.deltas} deltas since`);
  if (s.logEvidence.length > 0) lines.push(`WARNING: evidence against ${s.logEvidence.length} member log(s): ${[...new Set(s.logEvidence.map((e) => `${e.origin} ${e.kind}`))].join(", ")}`);
  const others = s.members.filter((m) => m.institutionId !== s.institutionId);
  if (others.length === 0) return lines.join("\n") + "\n";
  const withFilters = others.some((m) => m.filter);
  const header = ["Member", "Connected", ...(withFilters ? ["Filter epoch", "Deltas", "Heard", "Reports"] : [])];
  const rows = others.map((m) => [
    m.institutionId,
    m.connected ? "yes" : "no",
    ...(withFilters ? filterCells(m.filter, now) : []),
  ]);
  return lines.join("\n") + "\n\n" + renderTable(header, rows);
}

function filterCells(f: MemberFilterStatus | undefined, now: Date): string[] {
  if (!f) return ["-", "-", "-", "asked (filters off here)"];
  const c = f.consistency;
  const flags = c ? [c.inflated ? "INFLATED filter" : "", c.hiding ? "filter HIDES data" : ""].filter(Boolean) : [];
  let routing: string;
  if (f.skippedPastLimit) routing = `skipped: no usable filter (${f.failOpen}) since ${f.failingOpenSince ? ago(f.failingOpenSince, now) : "?"}`;
  else if (f.failOpen) routing = `asked anyway: ${f.failOpen}`;
  else routing = c ? `by filter (asked ${c.claimed}, empty ${c.claimedNoData})` : "by filter";
  return [f.epoch === "0" ? "-" : f.epoch, f.epoch === "0" ? "-" : f.deltaHead, f.lastHeardAt ? ago(f.lastHeardAt, now) : "never", [routing, ...flags].join("; ")];
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
function ago(at: Date, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - at.getTime()) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}
