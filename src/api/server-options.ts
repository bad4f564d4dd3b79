/**
 * The channel options of the node's gRPC server, apart from its interceptors:
 * also what the benchmarks' echo reference is served with (testnet/grpc-echo.ts),
 * so that the two differ only in the work a call does.
 */
export function grpcServerChannelOptions(maxMessageBytes: number): { "grpc.max_receive_message_length": number; "grpc.max_send_message_length": number } {
  return { "grpc.max_receive_message_length": maxMessageBytes, "grpc.max_send_message_length": maxMessageBytes };
}
