import { systemClock, type Clock } from "../../src/clock.js";
import type { Membership } from "../../src/identity/manifest.js";
import { silentLogger } from "../../src/logger.js";
import type { Metrics } from "../../src/metrics.js";
import type { PeerComponents, Signer } from "../../src/p2p/components.js";
import { QueryProtocol, type QueryInit } from "../../src/p2p/query-protocol.js";

/**
 * The requester's half of /creditmesh/query for a unit test: no peer node,
 * holders answered by `request` (the RpcClient's `request`), and a holder half
 * that throws if anything asks it to serve. `init` defaults to the signer's
 * institution with a 60 s clock skew, 1 MiB frames and a 5 s handler timeout;
 * fields given in `init` replace those.
 */
export function requesterQueryProtocol(opts: {
  membership: Membership;
  signer: Signer;
  request: PeerComponents["rpc"]["request"];
  metrics?: Metrics | null;
  clock?: Clock;
  init?: Partial<QueryInit>;
}): QueryProtocol {
  const unused = () => {
    throw new Error("the requester half does not serve");
  };
  const institutionId = opts.membership.byPeerId(opts.signer.peerId)?.institutionId;
  if (institutionId === undefined) throw new Error(`the signer ${opts.signer.peerId} is not a member`);
  return new QueryProtocol(
    {
      peer: {} as PeerComponents["peer"],
      membership: opts.membership,
      signer: opts.signer,
      clock: opts.clock ?? systemClock,
      logger: silentLogger(),
      metrics: opts.metrics ?? null,
      holder: { answer: unused, refuse: unused, busy: unused },
      nonces: { claim: unused, prune: unused },
      rpc: { request: opts.request },
    },
    { institutionId, maxClockSkewMs: 60_000, maxFrameBytes: 1024 * 1024, handlerTimeoutMs: 5_000, ...opts.init },
  );
}
