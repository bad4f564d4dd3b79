import { ServerInterceptingCall, type Metadata, type ServerInterceptingCallInterface, type ServerInterceptor } from "@grpc/grpc-js";
import { CreditMeshError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { ClientAuth, Principal } from "./auth.js";
import { toServiceError } from "./errors.js";
import { AUTH_FAILURE_REASONS } from "./handlers.js";

/**
 * Authenticates CreditNode calls from their metadata, before grpc-js reads
 * the request body: the body is read (and decoded) only once the handler asks
 * for it, which the handler does only after the metadata passes through
 * here. A caller without a valid key costs the metadata, not the message.
 * Roles stay with the handlers (some depend on the request). Health and
 * reflection need no key.
 */
/** The caller the interceptor found for a call's metadata, so the handler does not authenticate it again. */
const authenticated = new WeakMap<Metadata, Principal>();

export function authenticatedCaller(metadata: Metadata | undefined): Principal | undefined {
  return metadata ? authenticated.get(metadata) : undefined;
}

export function authenticateBeforeBody(servicePath: string, auth: ClientAuth, logger: Logger, metrics: Metrics | null): ServerInterceptor {
  const prefix = `/${servicePath}/`;
  return (methodDescriptor, call: ServerInterceptingCallInterface) => {
    if (!methodDescriptor.path.startsWith(prefix)) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata: Metadata, nextMetadata) => {
            try {
              authenticated.set(metadata, auth.authenticate({ metadata, getAuthContext: () => call.getAuthContext() }));
            } catch (err) {
              const reason = err instanceof CreditMeshError ? AUTH_FAILURE_REASONS[err.code] : undefined;
              if (reason) metrics?.authFailures.inc({ reason });
              const status = toServiceError(err, logger);
              call.sendStatus({ code: status.code!, details: status.details!, metadata: status.metadata! });
              return;
            }
            nextMetadata(metadata);
          },
        }),
    });
  };
}
