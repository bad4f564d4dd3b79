import { describe, expect, it } from "vitest";
import { printJson } from "../../../src/cli/print-json.js";
import { GetNodeStatusResponse, PurgeSubjectResponse } from "../../../src/gen/creditmesh/v1/node.js";
import { Summary } from "../../../src/gen/creditmesh/v1/report.js";

describe("printJson", () => {
  it("keeps zeros and empty lists, and prints counts as numbers", () => {
    const purged = JSON.parse(printJson(PurgeSubjectResponse, "creditmesh.v1.PurgeSubjectResponse", { subjectToken: "t", accounts: 0, repayments: 3, inquiries: 0, consents: 0, disputes: 0 }));
    expect(purged).toEqual({ subjectToken: "t", accounts: 0, repayments: 3, inquiries: 0, consents: 0, disputes: 0 });
    const status = JSON.parse(printJson(GetNodeStatusResponse, "creditmesh.v1.GetNodeStatusResponse", GetNodeStatusResponse.fromPartial({ institutionId: "a", accounts: "0", subjects: "12" })));
    expect(status).toMatchObject({ institutionId: "a", accounts: 0, subjects: 12, members: [] });
  });

  it("keeps amounts as decimal strings, as the API carries them", () => {
    const s = JSON.parse(printJson(Summary, "creditmesh.v1.Summary", Summary.fromPartial({ accounts: 2, totalBalance: "0", totalPastDue: "9007199254740993" })));
    expect(s).toMatchObject({ accounts: 2, totalBalance: "0", totalPastDue: "9007199254740993", delinquentAccounts: 0 });
  });
});
