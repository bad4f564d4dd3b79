import { describe, expect, test } from "vitest";
import { gossipFastMsgId } from "../../../src/p2p/gossip-message-id.js";

describe("gossipFastMsgId", () => {
  test("copies of one signed message share an id, other signatures do not", () => {
    const signature = Buffer.alloc(64, 7);
    const inLargerBuffer = Buffer.concat([Buffer.alloc(10, 1), signature, Buffer.alloc(5, 2)]).subarray(10, 74);
    expect(gossipFastMsgId({ signature: Uint8Array.from(signature) })).toBe(gossipFastMsgId({ signature: inLargerBuffer }));
    const other = Buffer.from(signature);
    other[63] ^= 1;
    expect(gossipFastMsgId({ signature: other })).not.toBe(gossipFastMsgId({ signature }));
  });

  test("an unsigned message gets an id no signed one has", () => {
    expect(gossipFastMsgId({})).toBe(gossipFastMsgId({ signature: new Uint8Array() }));
    expect(gossipFastMsgId({ signature: Buffer.alloc(64) })).not.toBe(gossipFastMsgId({}));
  });
});
