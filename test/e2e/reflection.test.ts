import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NODE_VERSION } from "../../src/version.js";
import { TestClient } from "../helpers/grpc-client.js";
import { startInProcessNode, type InProcessNode } from "../helpers/in-process-node.js";
import { account, residentId } from "../helpers/records.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLIENT = fileURLToPath(new URL("./py/reflection_client.py", import.meta.url));
const PYTHON = "/usr/bin/python3";
const BUF = path.join(ROOT, "node_modules/.bin/buf");
/** The reflection protocol's own .proto files (v1 and v1alpha), shipped with @grpc/reflection. */
const REFLECTION_PROTOS = path.resolve(path.dirname(createRequire(import.meta.url).resolve("@grpc/reflection")), "../proto");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** What test/e2e/py/reflection_client.py prints. */
interface ClientReport {
  ok: boolean;
  errors: { type: string; message: string; trace: string }[];
  reflection: Record<"v1" | "v1alpha", { ok: boolean; services?: string[]; error?: string }>;
  services: string[];
  credit_methods: string[];
  node_status: Record<string, unknown>;
  without_key: { code: string };
  unknown_key: { code: string };
  health: Record<string, string>;
  health_list?: Record<string, string>;
  files: string[];
}

describe("an independent client learns the API from reflection alone", () => {
  let n: InProcessNode;

  beforeAll(async () => {
    n = await startInProcessNode({ institutionId: "reflect-bank" });
    const client = new TestClient(n.address, n.apiKey);
    try {
      const acks = await client.submit([
        {
          records: [
            account({ accountId: "R-1", idNumber: residentId("19850101", 11) }),
            account({ accountId: "R-2", idNumber: residentId("19920615", 22) }),
          ],
        },
      ]);
      expect(acks).toMatchObject([{ accepted: 2, rejected: [] }]);
    } finally {
      client.close();
    }
  });
  afterAll(async () => {
    await n?.stop();
  });

  it("Python grpcio with no .proto files: lists services, calls GetNodeStatus, checks health", async () => {
    const r = await run(PYTHON, [CLIENT, "--address", n.address, "--api-key", n.apiKey, "--reflection-protos", REFLECTION_PROTOS]);
    let report: ClientReport;
    try {
      report = JSON.parse(r.stdout) as ClientReport;
    } catch {
      throw new Error(`client printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
    expect(r.code).toBe(0);

    // Both reflection protocol versions list the node's services.
    for (const version of ["v1", "v1alpha"] as const) {
      expect(report.reflection[version].ok, report.reflection[version].error).toBe(true);
      expect(report.reflection[version].services).toEqual(expect.arrayContaining(["creditmesh.v1.CreditNode", "grpc.health.v1.Health"]));
    }
    expect(report.credit_methods).toEqual(
      expect.arrayContaining(["SubmitRecords", "GrantConsent", "RevokeConsent", "GetCreditReport", "GetNodeStatus"]),
    );
    // The pool was built from reflection only, imports included.
    expect(report.files).toEqual(expect.arrayContaining(["creditmesh/v1/node.proto", "google/protobuf/timestamp.proto", "grpc/health/v1/health.proto"]));

    // GetNodeStatus decoded with classes made from the reflected descriptors (int64 → JSON string).
    expect(report.node_status).toMatchObject({ institutionId: "reflect-bank", version: NODE_VERSION, accounts: "2", subjects: "2" });
    expect(report.without_key.code).toBe("UNAUTHENTICATED");
    expect(report.unknown_key.code).toBe("UNAUTHENTICATED");

    expect(report.health).toEqual({ overall: "SERVING", "creditmesh.v1.CreditNode": "SERVING" });
    expect(report.health_list).toMatchObject({ "": "SERVING", "creditmesh.v1.CreditNode": "SERVING" });
  });

  it("buf curl with reflection: lists methods, calls GetNodeStatus and Health/Check", async () => {
    const base = ["curl", "--protocol", "grpc", "--http2-prior-knowledge"];
    const url = `http://${n.address}`;

    const list = await run(BUF, [...base, "--list-methods", url]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split("\n")).toEqual(
      expect.arrayContaining(["creditmesh.v1.CreditNode/GetNodeStatus", "creditmesh.v1.CreditNode/SubmitRecords", "grpc.health.v1.Health/Check"]),
    );

    const status = await run(BUF, [...base, "-H", `authorization: Bearer ${n.apiKey}`, `${url}/creditmesh.v1.CreditNode/GetNodeStatus`]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ institutionId: "reflect-bank", version: NODE_VERSION, accounts: "2", subjects: "2" });

    const anonymous = await run(BUF, [...base, `${url}/creditmesh.v1.CreditNode/GetNodeStatus`]);
    expect(anonymous.code).not.toBe(0);
    expect(JSON.parse(anonymous.stderr)).toMatchObject({ code: "unauthenticated" });

    const health = await run(BUF, [...base, `${url}/grpc.health.v1.Health/Check`]);
    expect(health.code, health.stderr).toBe(0);
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });
  });
});
