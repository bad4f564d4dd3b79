import { HolderStatus } from "../gen/creditmesh/v1/common.js";
import { NameCheck } from "../gen/creditmesh/v1/report.js";
import type { HolderResult } from "./assemble.js";

/**
 * Compares the tags of the name the requester was given (as tagged now, and
 * as earlier nodes tagged it: subject/tokenizer.ts nameForms) with the tags
 * of the names each answering holder has on file for the subject. A holder
 * with accounts under another name is named: the report is then flagged,
 * never shown as if the names matched.
 */
export function checkName(holders: readonly HolderResult[], requestedTags: readonly string[] | undefined): { nameCheck: NameCheck; nameDiffersAt: string[] } {
  if (!requestedTags || requestedTags.length === 0) return { nameCheck: NameCheck.NAME_NOT_CHECKED, nameDiffersAt: [] };
  let compared = false;
  const differs: string[] = [];
  for (const h of holders) {
    const tags = h.answer && h.outcome.status === HolderStatus.OK ? h.answer.nameTags : [];
    if (tags.length === 0) continue;
    compared = true;
    if (tags.some((t) => !requestedTags.includes(t))) differs.push(h.outcome.institutionId);
  }
  if (differs.length > 0) return { nameCheck: NameCheck.NAME_DIFFERS, nameDiffersAt: differs.sort() };
  return { nameCheck: compared ? NameCheck.NAME_MATCHES : NameCheck.NAME_NOT_CHECKED, nameDiffersAt: [] };
}
