/**
 * Cost of the published subject filters: building a binary fuse filter of
 * `--keys` tokens (best of `--rounds`), its size per key, membership queries
 * for members and for random non-members (ns per query, from a token's hex
 * and from a digest read once, as routing does for many members), the
 * measured false-positive rate, and a route over `--members` members.
 * Writes bench/results/filter.json.
 *
 *   node --import tsx scripts/bench/filter.ts [--keys N] [--probes N] [--rounds N] [--members N]
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { BinaryFuse16 } from "../../src/filters/binary-fuse.js";
import { memberFilterView, routeToken, type MemberFilterView } from "../../src/report/routing.js";
import { printTable, writeResults } from "./common.js";
import { round } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    keys: { type: "string", default: "1000000" },
    probes: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    members: { type: "string", default: "100" },
  },
});
const keys = Number(args.keys);
const probes = Number(args.probes);
const rounds = Number(args.rounds);
const memberCount = Number(args.members);

const tokens = Array.from({ length: keys }, () => randomBytes(32).toString("hex"));
const strangers = Array.from({ length: probes }, () => randomBytes(32).toString("hex"));

let filter: BinaryFuse16 | undefined;
const buildMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  filter = BinaryFuse16.build(tokens);
  buildMs.push(performance.now() - t0);
}
const f = filter!;

function timeNs(fn: () => number, count: number): { ns: number; result: number } {
  const t0 = performance.now();
  const result = fn();
  return { ns: ((performance.now() - t0) * 1e6) / count, result };
}

const member = timeNs(() => tokens.reduce((n, t) => n + (f.has(t) ? 1 : 0), 0), keys);
const stranger = timeNs(() => strangers.reduce((n, t) => n + (f.has(t) ? 1 : 0), 0), probes);
const digests = strangers.map((t) => BinaryFuse16.digest(t));
const byDigest = timeNs(() => digests.reduce((n, d) => n + (f.hasDigest(d) ? 1 : 0), 0), probes);
const t0 = performance.now();
const bytes = f.toBytes();
const encodeMs = performance.now() - t0;
const t1 = performance.now();
BinaryFuse16.fromBytes(bytes, { maxBytes: bytes.length });
const parseMs = performance.now() - t1;

// Routing: one token against `--members` members, each with a 10k-token filter and 12 deltas.
const now = new Date();
const views: MemberFilterView[] = [];
for (let m = 0; m < memberCount; m++) {
  const full = BinaryFuse16.build(Array.from({ length: 10_000 }, () => randomBytes(32)));
  const deltas = Array.from({ length: 12 }, (_, i) => ({
    institutionId: `m${m}`,
    epoch: 1,
    firstSequence: i + 1,
    sequence: i + 1,
    filter: BinaryFuse16.build([randomBytes(32)]),
    issuedAt: now,
  }));
  views.push(
    memberFilterView(`m${m}`, {
      announcement: { institutionId: `m${m}`, epoch: 1, count: full.capacity, filterSha256: new Uint8Array(32), filterBytes: full.byteLength, deltaSequence: 12, issuedAt: now },
      full: { institutionId: `m${m}`, epoch: 1, filter: full },
      deltas,
      lastHeardAt: now,
    }),
  );
}
const members = views.map((v) => v.institutionId);
const byId = new Map(views.map((v) => [v.institutionId, v]));
const routeRuns = 2000;
const routeStart = performance.now();
for (let i = 0; i < routeRuns; i++) routeToken(strangers[i % strangers.length], members, (id) => byId.get(id), { now, maxSilenceMs: 90_000 });
const routeUs = ((performance.now() - routeStart) * 1000) / routeRuns;

const figures = {
  keys,
  build_ms: { best: round(Math.min(...buildMs), 1), all: buildMs.map((x) => round(x, 1)) },
  bytes: f.byteLength,
  bytes_per_key: round(f.byteLength / keys, 3),
  padded_capacity: f.capacity,
  member_query_ns: round(member.ns, 1),
  non_member_query_ns: round(stranger.ns, 1),
  digest_query_ns: round(byDigest.ns, 1),
  false_negatives: keys - member.result,
  false_positive_rate: stranger.result / probes,
  false_positive_rate_expected: 2 ** -16,
  encode_ms: round(encodeMs, 1),
  parse_ms: round(parseMs, 1),
  route: { members: memberCount, filters_per_member: 13, us_per_token: round(routeUs, 1) },
};
printTable([
  ["keys", keys],
  ["build ms (best)", figures.build_ms.best],
  ["bytes per key", figures.bytes_per_key],
  ["member query ns", figures.member_query_ns],
  ["non-member query ns", figures.non_member_query_ns],
  ["query from digest ns", figures.digest_query_ns],
  ["false negatives", figures.false_negatives],
  ["false-positive rate", `${figures.false_positive_rate.toExponential(2)} (2^-16 = ${(2 ** -16).toExponential(2)})`],
  ["encode / parse ms", `${figures.encode_ms} / ${figures.parse_ms}`],
  [`route µs (${memberCount} members)`, figures.route.us_per_token],
]);
console.log(`written to ${await writeResults("filter", figures)}`);
