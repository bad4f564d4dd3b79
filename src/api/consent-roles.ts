import type { ApiRole } from "../config/secrets.js";
import { Purpose } from "../gen/creditmesh/v1/common.js";

/**
 * Who may record a consent of this purpose (and revoke it; OPERATOR may
 * revoke any). A FURNISHER key must not withdraw a lender's authorization,
 * and only the borrower's own service may record the borrower's own request,
 * which lets the report name every inquirer.
 */
export function consentRoles(purpose: Purpose): ApiRole[] {
  if (purpose === Purpose.FURNISHING) return ["FURNISHER", "LENDER"];
  if (purpose === Purpose.SUBJECT_REQUEST) return ["SUBJECT_SERVICE"];
  return ["LENDER"];
}

/** Who may ask for a report with this purpose. */
export function reportRoles(purpose: Purpose): ApiRole[] {
  return purpose === Purpose.SUBJECT_REQUEST ? ["SUBJECT_SERVICE"] : ["LENDER"];
}
