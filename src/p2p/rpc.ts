/**
 * Request/response over a libp2p protocol with one reused stream per
 * (peer, protocol) and pipelined, id-matched frames. See rpc-client.ts,
 * rpc-server.ts and rpc-frame.ts.
 */
export { RpcClient, RpcRemoteError, type RpcClientOptions } from "./rpc-client.js";
export { abortError } from "./abort.js";
export { RpcServer, registerRpcHandler, type RpcHandler, type RpcServerOptions } from "./rpc-server.js";
