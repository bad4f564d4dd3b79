/**
 * Writes one institution's share of a synthetic network as a furnishing file
 * that `creditmesh ingest` reads (.csv or .jsonl by the --out extension;
 * JSONL on stdout without --out).
 *
 *   node --import tsx scripts/synthetic.ts --seed 7 --borrowers 100 --institution bank-a --out /tmp/x.jsonl
 *
 * --institutions bank-a,bank-b,bank-c generates the whole network (the same
 * borrowers across institutions, multi-lending spread over all of them) and
 * writes --institution's part; run it once per institution with the same
 * seed, list and --as-of to seed a test network consistently.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { parseArgs } from "node:util";
import type { Writable } from "node:stream";
import { isoDate } from "../src/clock.js";
import { csvHeader, formatCsvRecord, formatJsonlRecord } from "../src/cli/record-file-write.js";
import { generateNetworkData, institutionRecords } from "../src/synthetic/index.js";

function fail(message: string): never {
  process.stderr.write(`synthetic: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    borrowers: { type: "string", default: "100" },
    institution: { type: "string" },
    institutions: { type: "string" },
    "as-of": { type: "string" },
    out: { type: "string" },
  },
  strict: true,
});

const institution = values.institution ?? fail("--institution is required");
const institutions = values.institutions ? values.institutions.split(",").map((s) => s.trim()).filter(Boolean) : [institution];
if (!institutions.includes(institution)) fail(`--institution ${institution} is not in --institutions`);
const borrowers = Number(values.borrowers);
if (!Number.isInteger(borrowers) || borrowers < 0) fail(`--borrowers must be a non-negative integer, got ${values.borrowers}`);
const seed = /^-?\d+$/.test(values.seed) ? Number(values.seed) : values.seed;
// Histories run up to as-of; pass it explicitly to get the same file on another day.
const asOf = values["as-of"] ?? isoDate(new Date());

let data;
try {
  data = generateNetworkData(seed, { institutions, borrowers, asOf });
} catch (err) {
  fail((err as Error).message);
}
const records = institutionRecords(data.institutions[institution]);
const csv = values.out?.toLowerCase().endsWith(".csv") ?? false;
const out: Writable = values.out ? createWriteStream(values.out) : process.stdout;

async function write(line: string): Promise<void> {
  if (!out.write(line + "\n")) await once(out, "drain");
}

if (csv) await write(csvHeader());
for (const r of records) await write(csv ? formatCsvRecord(r) : formatJsonlRecord(r));
if (values.out) {
  out.end();
  await once(out, "finish");
  const byProfile = new Map<string, number>();
  for (const b of data.borrowers) byProfile.set(b.profile, (byProfile.get(b.profile) ?? 0) + 1);
  process.stderr.write(
    `${values.out}: ${records.length} records (${data.institutions[institution].accounts.length} accounts) for ${institution}, ` +
      `as of ${asOf}; borrowers ${[...byProfile].map(([p, n]) => `${p} ${n}`).join(", ")}\n`,
  );
}
