import { pino, type Logger } from "pino";

export type { Logger };

/**
 * Root logger: pino JSON on stderr (stdout stays free for command output).
 * Modules take a child: `logger.child({ module: "ingest" })`. Personal data
 * (ID number, name, phone, account id) is never passed to a logger; the redact
 * paths are a second line of defence against a mistake.
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.CREDITMESH_LOG_LEVEL ?? "info",
      base: { pid: process.pid },
      redact: {
        paths: [
          "id_number", "idNumber", "name", "phone", "account_id", "accountId",
          "*.id_number", "*.idNumber", "*.name", "*.phone", "*.account_id", "*.accountId",
          "subject", "*.subject",
        ],
        censor: "[redacted]",
      },
    },
    (opts.destination ?? pino.destination({ fd: 2, sync: false })) as pino.DestinationStream,
  );
}

/** A logger that discards everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
