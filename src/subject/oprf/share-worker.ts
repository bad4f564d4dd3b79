import { parentPort, workerData } from "node:worker_threads";
import { decodeBlindedBatch, ShareEvaluator } from "./threshold.js";
import { toWorkerError } from "./worker-errors.js";

/** Worker thread holding one key share: checks and evaluates batches off the main event loop. */
const { index, secret } = workerData as { index: number; secret: string };
const evaluator = new ShareEvaluator({ index, secret: BigInt("0x" + secret) });

parentPort!.on("message", (msg: { id: number; blinded: Uint8Array[]; checkOnly?: boolean }) => {
  try {
    if (msg.checkOnly) {
      decodeBlindedBatch(msg.blinded);
      parentPort!.postMessage({ id: msg.id });
      return;
    }
    const { evaluated, proof } = evaluator.evaluate(msg.blinded);
    parentPort!.postMessage({ id: msg.id, evaluated, proof });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: toWorkerError(err, "evaluation failed") });
  }
});
