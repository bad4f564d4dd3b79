import { StreamState, YamuxStream } from "@chainsafe/libp2p-yamux/stream";

/**
 * Yamux window updates only once half the receive window is used, as the Go
 * and Rust implementations do (hashicorp/yamux: `delta < max/2` → no update).
 *
 * @chainsafe/libp2p-yamux 8 answers every data frame it receives with a
 * window-update frame. On a request/answer stream of small messages that is
 * one more frame per message in each direction, and each is a noise message,
 * two socket writes and a wake-up of the peer's process for nothing: a
 * query and its answer cost four wake-ups instead of two. With updates at
 * half the window the peer still has at least half a window (128 KiB at the
 * initial 256 KiB) to send into, so a stream never stalls on it; only the
 * window auto-tuning sees fewer samples.
 *
 * Only established streams are affected: opening, acknowledging and resuming
 * a paused stream (flags, or a window the remote has used up) go through the
 * library's own logic unchanged.
 */
export function installLazyYamuxWindowUpdates(): void {
  const proto = YamuxStream.prototype as YamuxStream & { [installed]?: true };
  if (proto[installed]) return;
  const eager = proto.sendWindowUpdate;
  proto.sendWindowUpdate = function sendWindowUpdate(this: YamuxStream): void {
    const window = this as unknown as WindowState;
    if (this.state === StreamState.Established && needsNoUpdate(window.recvWindow, window.recvWindowCapacity)) return;
    eager.call(this);
  };
  proto[installed] = true;
}

const installed = Symbol.for("creditmesh.yamux.lazyWindowUpdates");

/** The fields of YamuxStream the decision reads (declared private in its types). */
interface WindowState {
  recvWindow: number;
  recvWindowCapacity: number;
}

/** True while at least half of the receive window is still open to the remote. */
export function needsNoUpdate(recvWindow: number, recvWindowCapacity: number): boolean {
  return recvWindowCapacity * 2 >= recvWindow;
}
