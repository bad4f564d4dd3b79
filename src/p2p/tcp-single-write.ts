import { Socket } from "node:net";

/**
 * One socket write per noise message on libp2p's TCP connections.
 *
 * The noise layer hands the TCP connection each encrypted message as a list
 * of buffers (its 2-byte length, the ciphertext and the tag: a query and its
 * answer made six writes on loopback), and @libp2p/tcp 11 writes each with
 * its own `socket.write`. With `noDelay` (the transport's default) that is a
 * syscall and a TCP segment per part, and the peer's process may wake for a
 * part alone, find no complete message, and wake again for the rest. Here
 * the parts leave as one buffer: copying a few kilobytes costs far less than
 * a syscall and a wake-up.
 *
 * The method is replaced on the connection class's prototype, found from the
 * first connection seen (the class is not exported), so every TCP connection
 * of the process is covered once one exists; the messages before that (the
 * first handshake) go out the library's way, which is only slower.
 */
export function writeMessagesWhole(maConn: unknown): boolean {
  if (!isTcpConnection(maConn)) return false;
  const proto = Object.getPrototypeOf(maConn) as TcpConnection & { [patched]?: true };
  if (proto[patched]) return true;
  proto.sendData = function sendData(this: TcpConnection, data: ByteList | Uint8Array): SendResult {
    if (data instanceof Uint8Array) return { sentBytes: data.byteLength, canSendMore: this.socket.write(data) };
    const bufs = data.bufs;
    const whole = bufs.length === 1 ? bufs[0] : Buffer.concat(bufs, data.byteLength);
    // A full socket buffers the write anyway; the answer only asks the stream to wait for 'drain'.
    return { sentBytes: data.byteLength, canSendMore: this.socket.write(whole) };
  };
  proto[patched] = true;
  return true;
}

const patched = Symbol.for("creditmesh.tcp.writeMessagesWhole");

/** What the patch relies on, checked on the instance: a Node socket and a sendData of its own class. */
interface TcpConnection {
  socket: Socket;
  sendData(data: ByteList | Uint8Array): SendResult;
}

/** The part of a Uint8ArrayList the write reads. */
export interface ByteList {
  bufs: Uint8Array[];
  byteLength: number;
}

interface SendResult {
  sentBytes: number;
  canSendMore: boolean;
}

function isTcpConnection(value: unknown): value is TcpConnection {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<TcpConnection>;
  if (!(candidate.socket instanceof Socket)) return false;
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto !== null && Object.hasOwn(proto, "sendData") && typeof (proto as TcpConnection).sendData === "function";
}
