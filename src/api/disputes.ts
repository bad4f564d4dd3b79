import { MAX_REASON_CHARS, type DisputeService } from "../disputes/service.js";
import { screenFreeText } from "../subject/pii-screen.js";
import type { Caller, DisputeApi } from "./handlers.js";

/** The gRPC handlers' view of the dispute service; the API key's id is the audit actor. */
export function disputeApi(service: DisputeService): DisputeApi {
  const actor = (caller: Caller) => `apikey:${caller.keyId}`;
  return {
    file: (req, subjectToken, caller) => {
      // Only here is the subject's name known; the service screens ID numbers and phones itself
      // (and refuses an overlong reason, which is not screened here).
      if ([...(req.reason ?? "")].length <= MAX_REASON_CHARS) screenFreeText(req.reason ?? "", "reason", { names: [req.subject?.name] });
      return service.file(subjectToken, req.institutionId, req.accountRef, req.reason, actor(caller));
    },
    resolve: (req, caller) => service.resolve(req.disputeId, req.outcome, req.note, req.corrected, actor(caller)),
    list: (includeResolved) => service.list(includeResolved),
    get: (disputeId) => service.current(disputeId),
    listForSubject: async (subjectToken, includeResolved) => {
      const { disputes, notCurrent } = await service.listForSubject(subjectToken, includeResolved);
      return { disputes, notCurrentDisputeIds: notCurrent };
    },
  };
}
