/**
 * The shape of a request or dispute id on the wire (a UUID fits). An id goes
 * as it is into logs, audit entries and the answer, so one that is not this
 * shape is refused rather than stored or echoed.
 */
const REQUEST_ID = /^[A-Za-z0-9-]{8,64}$/;

export const REQUEST_ID_SHAPE = "8-64 letters, digits or '-'";

export function isRequestId(id: string | undefined): boolean {
  return REQUEST_ID.test(id ?? "");
}
