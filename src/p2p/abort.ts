import { CreditMeshError } from "../errors.js";

/**
 * What an aborted network call throws: a timeout (AbortSignal.timeout) becomes
 * P2P_TIMEOUT; any other reason — a caller cancelling, a deadline expressed as
 * its own error — is thrown as it is, so callers see what they asked for.
 */
export function abortError(signal: AbortSignal, what = "peer did not answer in time"): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new CreditMeshError("P2P_TIMEOUT", what, { cause: reason });
  }
  if (reason instanceof Error) return reason;
  return new DOMException("operation cancelled", "AbortError");
}

/** `promise`, or abortError(signal) as soon as the signal fires (the work itself goes on). */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
