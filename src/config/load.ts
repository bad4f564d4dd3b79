import { readFileSync } from "node:fs";
import path from "node:path";
import type { z } from "zod";
import { CreditMeshError } from "../errors.js";
import { ConfigSchema, type NodeConfig } from "./schema.js";

export const DEFAULT_CONFIG_FILE = "node-config/default.json";

/** Environment overrides, for operators who start nodes from scripts. */
const ENV_OVERRIDES: Record<string, (c: Record<string, any>, v: string) => void> = {
  CREDITMESH_DATA_DIR: (c, v) => ((c.storage ??= {}).dataDir = v),
  CREDITMESH_GRPC_PORT: (c, v) => ((c.grpc ??= {}).port = Number(v)),
  CREDITMESH_GRPC_HOST: (c, v) => ((c.grpc ??= {}).host = v),
  CREDITMESH_LOG_LEVEL: (c, v) => ((c.log ??= {}).level = v),
};

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length ? issue.path.join(".") : "(root)";
  return `${where}: ${issue.message}`;
}

/** Validates a raw config object; throws CONFIG_INVALID naming the first bad field. */
export function parseConfig(raw: unknown, source = "config"): NodeConfig {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new CreditMeshError("CONFIG_INVALID", `${source}: ${result.error.issues.map(describeIssue).join("; ")}`, {
      field: first ? first.path.join(".") : undefined,
    });
  }
  return result.data;
}

/**
 * Reads a JSON config file, applies environment overrides and validates it
 * once. Relative paths inside stay relative to the working directory, as
 * operators expect from `./data`.
 */
export function loadConfig(file: string = DEFAULT_CONFIG_FILE, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  let raw: Record<string, any>;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new CreditMeshError("CONFIG_INVALID", `${file}: cannot read config: ${(cause as Error).message}`, { cause });
  }
  for (const [name, apply] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== "") apply(raw, value);
  }
  return parseConfig(raw, file);
}

export function secretsPath(config: NodeConfig): string {
  return path.resolve(config.storage.secretsFile ?? path.join(config.storage.dataDir, "secrets.json"));
}

/** Erasures on request, kept beside the database so that a restore can re-apply them (store/erasure-ledger.ts). */
export function erasureLedgerPath(config: NodeConfig): string {
  return path.resolve(config.storage.dataDir, "erasures.jsonl");
}

export function backupRootPath(config: NodeConfig): string {
  return path.resolve(config.storage.backupRoot ?? path.join(config.storage.dataDir, "backups"));
}

export function databasePath(config: NodeConfig): string {
  return path.resolve(config.storage.dataDir, "db");
}
