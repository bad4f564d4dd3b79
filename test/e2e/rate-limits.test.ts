import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addApiKey } from "../../src/config/secrets.js";
import { HolderStatus, IdType, ProductType, Purpose, Role } from "../../src/gen/creditmesh/v1/common.js";
import type { CreditReport } from "../../src/gen/creditmesh/v1/report.js";
import { TestClient } from "../helpers/grpc-client.js";
import { TestNetwork } from "../../src/testnet/network.js";
import { account, residentId } from "../helpers/records.js";

/**
 * Rate limits, with child processes: holder cfc-b allows one request per
 * 100 s per API key on gRPC (`grpc.rateLimitPerKey`) and one query per 100 s
 * per requesting institution on /creditmesh/query (`p2p.rateLimitPerPeer`),
 * so that no bucket refills while the test runs, however slow the machine;
 * bank-a and ecom-c are lenders without limits of their own. Refilling is
 * the bucket's arithmetic, checked with a driven clock in test/unit/rate-limit.test.ts.
 */

const HOLDER = "cfc-b";
const DAY_MS = 86_400_000;
const AS_OF = new Date().toISOString().slice(0, 10);
const BORROWER = { idType: IdType.CN_RESIDENT_ID, idNumber: residentId("19930102", 515, "510104"), name: "刘洋", phone: "" };
const BURST = 6;

const codeOf = (p: Promise<unknown>): Promise<number> => p.then(() => GrpcStatus.OK, (err: ServiceError) => err.code);
const holderOutcome = (report: CreditReport) => report.holders.find((h) => h.institutionId === HOLDER)!;

describe("a requester over its rate limit is refused while the holder keeps serving others", () => {
  const roles: Role[][] = [[Role.LENDER], [Role.FURNISHER], [Role.LENDER]];
  const net = new TestNetwork({
    nodes: 3,
    // The holder's one call per second is for the test: the connection check below asks the others only.
    waitConnected: false,
    roles: (i) => roles[i]!,
    config: (_i, id): Record<string, Record<string, unknown>> => (id === HOLDER ? { grpc: { rateLimitPerKey: 0.01 }, p2p: { rateLimitPerPeer: 0.01 } } : {}),
  });
  let other: TestClient;
  let hammered: TestClient;
  const consents = new Map<string, string>();

  beforeAll(async () => {
    await net.start();
    await net.waitConnected(["bank-a", "ecom-c"], ["bank-a", HOLDER, "ecom-c"]);
    const holder = net.node(HOLDER);
    // A second key for another application of the same institution (the running node re-reads the secrets file).
    other = new TestClient(holder.grpcAddr!, addApiKey(`${holder.dir}/secrets.json`, ["LENDER", "FURNISHER"]));
    // A key of its own for the burst: the set-up below spends the local key's one token.
    hammered = new TestClient(holder.grpcAddr!, addApiKey(`${holder.dir}/secrets.json`, ["LENDER"]));
    const acks = await net.client(HOLDER).submit([
      { records: [account({ idNumber: BORROWER.idNumber, name: BORROWER.name, accountId: "ACC-RL-1", productType: ProductType.CASH_LOAN, openedOn: "2025-11-03", creditLimit: "100000", termMonths: 6 })] },
    ]);
    expect(acks[0]!.accepted).toBe(1);
    for (const lender of ["bank-a", "ecom-c"]) {
      const consent = await net.client(lender).unary("grantConsent", {
        subject: BORROWER,
        purpose: Purpose.LOAN_ORIGINATION,
        validFrom: new Date(Date.now() - 60_000),
        validUntil: new Date(Date.now() + 7 * DAY_MS),
        evidenceRef: `sha256:authorization-${lender}`,
      });
      consents.set(lender, consent.consentId);
    }
  }, 180_000);

  afterAll(async () => {
    other?.close();
    hammered?.close();
    await net.stop();
  });

  it("gRPC: one API key over its limit gets RESOURCE_EXHAUSTED, another key is served at the same time", async () => {
    const hammer = Array.from({ length: BURST }, () => codeOf(hammered.unary("getNodeStatus", {})));
    const meanwhile = codeOf(other.unary("getNodeStatus", {}));
    const codes = await Promise.all(hammer);
    expect(codes.filter((c) => c === GrpcStatus.OK).length).toBe(1);
    expect(codes.filter((c) => c === GrpcStatus.RESOURCE_EXHAUSTED).length).toBe(BURST - 1);
    expect(await meanwhile).toBe(GrpcStatus.OK);
    const err = await hammered.unary("getNodeStatus", {}).catch((e: ServiceError) => e);
    expect(err).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    expect((err as ServiceError).details).toMatch(/rate limit/);
  });

  it("query protocol: one institution over its limit gets DENIED from the holder, another institution gets answers", async () => {
    const report = (lender: string) =>
      net.client(lender).unary("getCreditReport", { subject: BORROWER, purpose: Purpose.LOAN_ORIGINATION, consentId: consents.get(lender)!, asOf: AS_OF, deadlineMs: 5_000 }) as Promise<CreditReport>;
    const hammer = Array.from({ length: BURST }, () => report("bank-a"));
    const meanwhile = report("ecom-c");
    const outcomes = (await Promise.all(hammer)).map(holderOutcome);
    const ok = outcomes.filter((o) => o.status === HolderStatus.OK);
    const denied = outcomes.filter((o) => o.status === HolderStatus.DENIED);
    expect(ok.length).toBe(1);
    expect(denied.length).toBe(BURST - 1);
    for (const d of denied) expect(d.reason).toBe("rate limit exceeded");
    // The refusal is the holder's own, signed like any answer.
    expect(denied.every((d) => d.signedAnswer.length > 0 && d.signature.length > 0)).toBe(true);

    const served = holderOutcome(await meanwhile);
    expect(HolderStatus[served.status]).toBe("OK");
    expect(served.tradelines).toBe(1);

    expect(HolderStatus[holderOutcome(await report("bank-a")).status]).toBe("DENIED");
  });
});
