import type { DisputeService } from "../disputes/service.js";
import type { Caller, DisputeApi } from "./handlers.js";

/** The gRPC handlers' view of the dispute service; the API key's id is the audit actor. */
export function disputeApi(service: DisputeService): DisputeApi {
  const actor = (caller: Caller) => `apikey:${caller.keyId}`;
  return {
    file: (req, subjectToken, caller) => service.file(subjectToken, req.institutionId, req.accountRef, req.reason, actor(caller)),
    resolve: (req, caller) => service.resolve(req.disputeId, req.outcome, req.note, req.corrected, actor(caller)),
    list: (includeResolved) => service.list(includeResolved),
    get: (disputeId) => service.current(disputeId),
    listForSubject: async (subjectToken, includeResolved) => {
      const { disputes, notCurrent } = await service.listForSubject(subjectToken, includeResolved);
      return { disputes, notCurrentDisputeIds: notCurrent };
    },
  };
}
