/**
 * Every peer protocol id, gossip topic, size limit and timeout in one place.
 * Protocol ids are versioned: a wire change gets a new id, never a silent edit.
 */

export const QUERY_PROTOCOL = "/creditmesh/query/1.0.0";
export const DISPUTE_PROTOCOL = "/creditmesh/dispute/1.0.0";
/** "The current state of a dispute I filed with you." */
export const DISPUTE_STATUS_PROTOCOL = "/creditmesh/dispute-status/1.0.0";
export const WITNESS_PROTOCOL = "/creditmesh/witness/1.0.0";
export const WITNESS_MAX_FRAME_BYTES = 64 * 1024;
/** "The revocations you issued after position X": catch-up for members that missed the gossip. */
export const REVOCATIONS_PROTOCOL = "/creditmesh/revocations/1.0.0";
/** "Evaluate these blinded elements with your share of the token key." */
export const OPRF_PROTOCOL = "/creditmesh/oprf/1.0.0";

/** "Take this step of the operator's token-key ceremony" (key generation or reshare, src/subject/oprf/dkg.ts). */
export const DKG_PROTOCOL = "/creditmesh/dkg/1.0.0";

/** "Your current subject filter and the deltas after position X" (holder filters, src/filters/). */
export const FILTERS_PROTOCOL = "/creditmesh/filters/1.0.0";

export const REVOCATIONS_TOPIC = "creditmesh/revocations/1";
export const MANIFEST_TOPIC = "creditmesh/manifest/1";
/** Filter announcements and deltas (FilterGossip); the full filter goes over FILTERS_PROTOCOL. */
export const FILTERS_TOPIC = "creditmesh/filters/1";
export const LOG_EVIDENCE_TOPIC = "creditmesh/log-evidence/1";
/** A log evidence note holds two small checkpoints (and at most a consistency proof): a few KiB is plenty. */
export const MAX_LOG_EVIDENCE_BYTES = 8 * 1024;

/** An answer carries tradelines and inquiries for one subject; 1 MiB is generous. */
export const QUERY_MAX_FRAME_BYTES = 1024 * 1024;
export const DISPUTE_MAX_FRAME_BYTES = 64 * 1024;
/** A page of signed revocations (~200 bytes each) is far below this. */
export const REVOCATIONS_MAX_FRAME_BYTES = 256 * 1024;
/** Most revocations in one page of /creditmesh/revocations. */
export const REVOCATIONS_PAGE_LIMIT = 500;
export const REVOCATIONS_HANDLER_TIMEOUT_MS = 5_000;
/**
 * A fetch answer: the full filter (~2.25 bytes per token: 16 MiB is ~7M
 * subjects) plus a signed announcement and a few deltas.
 */
export const FILTERS_MAX_FILTER_BYTES = 16 * 1024 * 1024;
export const FILTERS_MAX_FRAME_BYTES = FILTERS_MAX_FILTER_BYTES + 1024 * 1024;
export const FILTERS_HANDLER_TIMEOUT_MS = 10_000;
/** A full batch (1024 elements of 32 bytes) plus envelope and proof stays below this. */
export const OPRF_MAX_FRAME_BYTES = 64 * 1024;
/** A full batch costs one scalar multiplication per element and a proof; under load that can take seconds. */
export const OPRF_HANDLER_TIMEOUT_MS = 10_000;
/** A ceremony's largest message is the round-1 set: t commitments per dealer, a few KiB for a 9-member committee. */
export const DKG_MAX_FRAME_BYTES = 256 * 1024;
/** A step costs a few scalar multiplications per participant; slow only on a loaded machine. */
export const DKG_HANDLER_TIMEOUT_MS = 30_000;
/** Each step of a ceremony, as the coordinator waits for one participant. */
export const DKG_STEP_TIMEOUT_MS = 40_000;
/** Default frame ceiling for an RPC protocol that does not set its own. */
export const DEFAULT_RPC_MAX_FRAME_BYTES = 1024 * 1024;

/** A requester that passes no signal still gets an answer or an error within this. */
export const DEFAULT_RPC_REQUEST_TIMEOUT_MS = 10_000;
/** A holder abandons its own handler after this, even if the requester waits longer. */
export const QUERY_HANDLER_TIMEOUT_MS = 5_000;
export const DISPUTE_HANDLER_TIMEOUT_MS = 5_000;
/**
 * A frame that has started must arrive in full within this, or its stream is
 * closed: a peer trickling (or never finishing) a large frame would otherwise
 * hold up to a frame of memory per stream for as long as it likes.
 */
export const DEFAULT_RPC_PARTIAL_FRAME_TIMEOUT_MS = 10_000;
/** Requests one stream may have in its handlers at once; beyond that the stream is paused (backpressure). */
export const DEFAULT_RPC_MAX_CONCURRENT_PER_STREAM = 512;
/** Streams a peer may open per RPC protocol on one connection (one is normal; a few cover reopening). */
export const RPC_MAX_STREAMS_PER_CONNECTION = 4;

/** Gossipsub's mesh degree: target, bounds, outbound floor, and peers sent IHAVE each heartbeat (its defaults are 6, 4–12, 2, 6). */
export const GOSSIP_MESH_DEGREE = { D: 4, Dlo: 3, Dhi: 8, Dout: 1, Dlazy: 3 };
/** Gossip messages at least this large are announced to mesh peers with IDONTWANT before they are forwarded (gossipsub's default is 512). */
export const GOSSIP_IDONTWANT_MIN_BYTES = 64 * 1024;

/** Largest gossip message accepted on any CreditMesh topic. */
export const MAX_GOSSIP_MESSAGE_BYTES = 256 * 1024;

/** How often a node checks that it is connected to every member. */
export const DEFAULT_DIAL_INTERVAL_MS = 2_000;
/** Redial backoff per member: from the first to the cap, with jitter. */
export const REDIAL_INITIAL_MS = 500;
export const REDIAL_MAX_MS = 30_000;
/** Periodic manifest gossip: a node that missed an update converges within this. */
export const MANIFEST_REPUBLISH_INTERVAL_MS = 60_000;
/** A manifest already gossiped is sent again to new subscribers at most this often (they get it within this). */
export const MANIFEST_GREETING_MIN_INTERVAL_MS = 60_000;
