import { parentPort } from "node:worker_threads";
import { InProcessBatchMath } from "./batch-math.js";
import type { BatchMathCall } from "./worker-batch-math.js";
import { toWorkerError } from "./worker-errors.js";

/** Worker thread doing a node's requester-side OPRF arithmetic (subject/oprf/worker-batch-math.ts). */
const math = new InProcessBatchMath();

parentPort!.on("message", (call: BatchMathCall) => {
  try {
    switch (call.op) {
      case "blind":
        parentPort!.postMessage({ call: call.call, result: math.blindNow(call.inputs, call.id).blinded });
        return;
      case "verify":
        parentPort!.postMessage({ call: call.call, result: math.verifyNow(call.id, call.partial, call.share) });
        return;
      case "combine":
        parentPort!.postMessage({ call: call.call, result: math.combineNow(call.id, call.indices, call.threshold) });
        return;
      case "release":
        math.releaseNow(call.id);
        return;
    }
  } catch (err) {
    parentPort!.postMessage({ call: call.call, error: toWorkerError(err, "token arithmetic failed") });
  }
});
