import { CreditMeshError } from "../../errors.js";
import type { CommitteeMember } from "./committee.js";
import type { ShareEvaluator } from "./threshold.js";
import type { EvaluationAnswer, EvaluationRequest, Evaluators } from "./tokenizer.js";

/** Evaluators living in this process (benchmarks, tests, a single-process test network). */
export class InProcessEvaluators implements Evaluators {
  constructor(private readonly byInstitution: ReadonlyMap<string, ShareEvaluator>, private readonly epoch: number) {}

  async evaluate(member: CommitteeMember, request: EvaluationRequest, signal: AbortSignal): Promise<EvaluationAnswer> {
    signal.throwIfAborted();
    const evaluator = this.byInstitution.get(member.institutionId);
    if (!evaluator) throw new CreditMeshError("P2P_UNREACHABLE", `no evaluator ${member.institutionId} in this process`);
    // Yield first, so that the caller's batches and hedging interleave as they would over a network.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const { evaluated, proof } = evaluator.evaluate(request.blindedElements);
    return { evaluatorId: member.institutionId, epoch: this.epoch, evaluatedElements: evaluated, proof };
  }
}
