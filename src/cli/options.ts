import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE } from "../config/load.js";
import { invalid } from "../errors.js";
import { IdType, idTypeFromJSON, Purpose, purposeFromJSON, type SubjectId } from "../gen/creditmesh/v1/common.js";

export interface ClientFlags {
  config?: string;
  addr?: string;
  apiKey?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** Flags shared by every command that talks to a running node. */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", "node config (finds address and local API key)", DEFAULT_CONFIG_FILE)
    .option("--addr <host:port>", "node gRPC address (default: from the config)")
    .option("--api-key <key>", "API key (default: CREDITMESH_API_KEY or the node's local key)")
    .option("--tls-ca <file>", "CA certificate(s) to trust for the node (default: CREDITMESH_TLS_CA or the config's grpc.tls.certFile)")
    .option("--tls-cert <file>", "client certificate for mutual TLS (default: CREDITMESH_TLS_CERT)")
    .option("--tls-key <file>", "key of --tls-cert (default: CREDITMESH_TLS_KEY)");
}

export interface SubjectFlags {
  idType: string;
  idNumber: string;
  name: string;
  phone?: string;
}

export function addSubjectOptions(cmd: Command, opts: { optional?: boolean } = {}): Command {
  const needed = opts.optional ? "option" : "requiredOption";
  const alongside = opts.optional ? (other: string) => ` (with ${other})` : () => "";
  return cmd
    .option("--id-type <type>", "CN_RESIDENT_ID, PASSPORT or UNIFIED_PHONE", "CN_RESIDENT_ID")
    [needed]("--id-number <id>", `the borrower's identifier${alongside("--name")}`)
    [needed]("--name <name>", `the borrower's name${alongside("--id-number")}`)
    .option("--phone <phone>", "the borrower's mobile number");
}

/** The borrower named by addSubjectOptions(cmd, { optional: true })'s flags, if any. */
export function optionalSubjectFrom(flags: Partial<SubjectFlags>): SubjectId | undefined {
  if (flags.idNumber === undefined && flags.name === undefined) return undefined;
  if (flags.idNumber === undefined) throw invalid("id_number", "required with --name");
  if (flags.name === undefined) throw invalid("name", "required with --id-number");
  return subjectFrom({ idType: flags.idType ?? "CN_RESIDENT_ID", idNumber: flags.idNumber, name: flags.name, phone: flags.phone });
}

export function subjectFrom(flags: SubjectFlags): SubjectId {
  const idType = idTypeFromJSON(flags.idType.toUpperCase());
  if (idType === IdType.UNRECOGNIZED) throw invalid("id_type", `unknown id type ${flags.idType}`);
  return { idType, idNumber: flags.idNumber, name: flags.name, phone: flags.phone ?? "" };
}

export function purposeFrom(text: string): Purpose {
  const purpose = purposeFromJSON(text.toUpperCase());
  if (purpose === Purpose.UNRECOGNIZED || purpose === Purpose.PURPOSE_UNSPECIFIED) throw invalid("purpose", `unknown purpose ${text}`);
  return purpose;
}
