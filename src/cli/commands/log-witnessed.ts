import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { invalid } from "../../errors.js";
import { HolderStatus } from "../../gen/creditmesh/v1/common.js";
import { CreditReport, HolderAnswer } from "../../gen/creditmesh/v1/report.js";
import { mergeCosignedEntry, parseCosignedCheckpoints, type CosignedCheckpoints } from "../../report/witnessed-checkpoints.js";
import { parseCheckpoint, parseNote } from "../../tlog/index.js";
import { call, connect, type NodeConnection } from "../client.js";
import { addClientOptions, type ClientFlags } from "../options.js";

const POLL_MS = 500;

/** The sizes of the checkpoints `holder`'s answers in the report name (read as the holder wrote them; verify checks the signatures). */
function answerSizes(file: string, holder: string): number[] {
  let report: CreditReport;
  try {
    report = CreditReport.fromJSON(JSON.parse(readFileSync(file, "utf8")));
  } catch (err) {
    throw invalid("report", `${file} is not a JSON report: ${(err as Error).message}`);
  }
  const sizes = new Set<number>();
  for (const h of report.holders) {
    if (h.institutionId !== holder || h.signedAnswer.length === 0) continue;
    let answer: HolderAnswer;
    try {
      answer = HolderAnswer.decode(h.signedAnswer);
    } catch (err) {
      throw invalid("report", `${holder}'s signed answer does not decode: ${(err as Error).message}`);
    }
    if (!answer.logProof || (answer.status !== HolderStatus.OK && answer.status !== HolderStatus.NO_DATA)) continue;
    sizes.add(checkpointOf(answer.logProof.checkpoint, `report: ${holder}'s answer`).size);
  }
  return [...sizes];
}

function checkpointOf(note: string, what: string) {
  try {
    return parseCheckpoint(parseNote(note).text);
  } catch (err) {
    throw invalid("checkpoint", `${what}: ${(err as Error).message}`);
  }
}

/**
 * The sizes to prove consistent with the new cosigned checkpoint of size
 * `treeSize`: the answers' checkpoints, and the holder's cosigned checkpoints
 * already in the file — `verify --checkpoints` checks each cosigned
 * checkpoint against the next larger one, so a later run beside an earlier
 * one needs the proof between them.
 */
export function sizesToProve(answerSizes: readonly number[], existing: CosignedCheckpoints | undefined, origin: string, treeSize: number): number[] {
  const earlier = (existing?.logs ?? [])
    .filter((l) => l.institution_id === origin)
    .map((l) => {
      try {
        return parseCheckpoint(parseNote(l.cosigned).text).size;
      } catch (err) {
        throw invalid("out", `a cosigned checkpoint of ${origin} in the file: ${(err as Error).message}`);
      }
    });
  return [...new Set([...answerSizes, ...earlier])].filter((s) => s > 0 && s < treeSize).sort((a, b) => a - b);
}

function readExisting(file: string): CosignedCheckpoints | undefined {
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw invalid("out", `${file} exists and is not JSON: ${(err as Error).message}`);
  }
  return parseCosignedCheckpoints(json);
}

/** The node's cosigned checkpoint once it covers `needed` (the largest answer checkpoint), waiting up to `waitMs`. */
async function cosignedCovering(conn: NodeConnection, needed: number, waitMs: number): Promise<string> {
  const until = Date.now() + waitMs;
  for (;;) {
    const { cosigned } = await call(conn, conn.client.getLogCheckpoint, { institutionId: "" }, 10_000);
    const size = cosigned ? checkpointOf(cosigned, "the node's cosigned checkpoint").size : -1;
    if (cosigned && size >= needed) return cosigned;
    if (Date.now() >= until) {
      throw invalid(
        "wait-ms",
        cosigned
          ? `the witnesses have cosigned up to size ${size}, the report's answers name size ${needed}: try again later`
          : "the node has no checkpoint cosigned by its witness quorum yet",
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * `creditmesh log witnessed`: an auditor's fetch, once, of what `verify
 * --checkpoints` checks offline — the node's latest checkpoint cosigned by its
 * witnesses and the consistency proofs from every checkpoint its answers in a
 * report name to it. Added under `log` (named add…, not register…: it is not
 * a top-level command).
 */
export function addWitnessedCommand(log: Command): void {
  addClientOptions(
    log
      .command("witnessed")
      .description("add the node's witness-cosigned checkpoint, and consistency proofs from a report's answers to it, to a file for `verify --checkpoints`"),
  )
    .requiredOption("-o, --out <file>", "the cosigned-checkpoints file (created, or extended with this node's log)")
    .option("--report <file>", "a saved report: prove each checkpoint this node's answers in it name")
    .option("--wait-ms <n>", "wait up to this long for the witnesses to cosign a checkpoint covering the report's answers", "60000")
    .action(async (opts: ClientFlags & { out: string; report?: string; waitMs: string }) => {
      if (!/^(0|[1-9][0-9]{0,8})$/.test(opts.waitMs)) throw invalid("wait-ms", "must be a non-negative integer");
      const existing = readExisting(opts.out);
      const conn = connect(opts);
      try {
        const { checkpoint: published } = await call(conn, conn.client.getLogCheckpoint, { institutionId: "" }, 10_000);
        if (!published) throw invalid("institution", "the node has published no checkpoint yet");
        const origin = checkpointOf(published, "the node's checkpoint").origin;
        const sizes = opts.report ? answerSizes(opts.report, origin) : [];
        const cosigned = await cosignedCovering(conn, Math.max(0, ...sizes), Number(opts.waitMs));
        const treeSize = checkpointOf(cosigned, "the node's cosigned checkpoint").size;
        const consistency = [];
        for (const oldSize of sizesToProve(sizes, existing, origin, treeSize)) {
          const res = await call(conn, conn.client.getLogProof, { institutionId: "", oldSize: String(oldSize), treeSize: String(treeSize) }, 10_000);
          consistency.push({ old_size: oldSize, tree_size: treeSize, hashes: res.hashes });
        }
        const merged = mergeCosignedEntry(existing, { institution_id: origin, cosigned, consistency });
        const tmp = `${opts.out}.tmp`;
        writeFileSync(tmp, JSON.stringify(merged, null, 2) + "\n");
        renameSync(tmp, opts.out);
        process.stdout.write(
          `${origin}: cosigned checkpoint of size ${treeSize}` +
            (consistency.length > 0 ? `, consistency proofs from ${consistency.map((c) => c.old_size).join(", ")}` : "") +
            (opts.report && sizes.length === 0 ? ` (no answer of ${origin} in the report carries a log proof)` : "") +
            ` → ${opts.out}\n`,
        );
      } finally {
        conn.close();
      }
    });
}
