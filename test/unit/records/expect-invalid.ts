import { expect } from "vitest";
import { CreditMeshError } from "../../../src/errors.js";

/** Runs `fn`, asserts it threw a VALIDATION_FAILED CreditMeshError on `field`, and returns the error. */
export function expectInvalid(fn: () => unknown, field: string): CreditMeshError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected a validation error on ${field}`).toBeInstanceOf(CreditMeshError);
  const err = thrown as CreditMeshError;
  expect(err.code).toBe("VALIDATION_FAILED");
  expect(err.field).toBe(field);
  return err;
}
