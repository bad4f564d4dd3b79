import { describe, expect, it } from "vitest";
import { HolderStatus } from "../../../src/gen/creditmesh/v1/common.js";
import { NameCheck } from "../../../src/gen/creditmesh/v1/report.js";
import { checkName } from "../../../src/report/name-check.js";
import { tokenKeyedNameTag, tokenKeyedNameTags } from "../../../src/subject/tokenizer.js";
import { answer, member, signedResult, unansweredResult } from "./fixtures.js";

const TOKEN = "e".repeat(64);

function holderWith(institutionId: string, nameTags: string[]) {
  return signedResult(member(institutionId), answer({ holderInstitutionId: institutionId, nameTags, status: HolderStatus.OK }));
}

describe("checkName", () => {
  it("matches when every holder's tags are among the requested name's, naming the holders whose are not", () => {
    const requested = tokenKeyedNameTags(TOKEN, "阿卜杜拉·买买提");
    const now = tokenKeyedNameTag(TOKEN, "阿卜杜拉买买提");
    // A tag stored before separators were ignored, from the same name with a bullet: among the requested ones.
    const earlier = requested.find((t) => t !== now)!;
    expect(checkName([holderWith("bank-a", [now]), holderWith("bank-b", [earlier, now])], requested)).toEqual({ nameCheck: NameCheck.NAME_MATCHES, nameDiffersAt: [] });
    const other = tokenKeyedNameTag(TOKEN, "阿卜杜拉·买买");
    expect(checkName([holderWith("bank-b", [now, other]), holderWith("bank-a", [now])], requested)).toEqual({ nameCheck: NameCheck.NAME_DIFFERS, nameDiffersAt: ["bank-b"] });
  });

  it("compares nothing without a requested name, or without a holder that answered with tags", () => {
    expect(checkName([holderWith("bank-a", ["x"])], undefined).nameCheck).toBe(NameCheck.NAME_NOT_CHECKED);
    expect(checkName([holderWith("bank-a", ["x"])], []).nameCheck).toBe(NameCheck.NAME_NOT_CHECKED);
    expect(checkName([holderWith("bank-a", []), unansweredResult("bank-b", HolderStatus.TIMEOUT, "late")], ["x"]).nameCheck).toBe(NameCheck.NAME_NOT_CHECKED);
  });
});
