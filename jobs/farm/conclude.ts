// Ending a job: the result (or failure) recorded, leftover queued steps cancelled, finish queued.
import type { Knex } from "knex";
import { BisectJob, BisectStep, type JobOutcome } from "../../db/models";
import { enqueue } from "../catalog";
import { notifyJobChanged } from "./notify";

export interface Conclusion {
  status: "finished" | "failed";
  outcome: JobOutcome;
  culpritSha?: string | null;
  candidates?: string[];
  confidence?: number | null;
  explanation?: string | null;
  error?: string | null;
}

export async function concludeJob(
  trx: Knex.Transaction,
  job: BisectJob,
  conclusion: Conclusion,
): Promise<void> {
  await BisectJob.query(trx)
    .patch({
      status: conclusion.status,
      outcome: conclusion.outcome,
      culpritSha: conclusion.culpritSha ?? null,
      candidates: conclusion.candidates ?? [],
      confidence: conclusion.confidence ?? null,
      explanation: conclusion.explanation ?? null,
      error: conclusion.error ?? null,
      finishedAt: new Date(),
    })
    .where({ id: job.id });
  await BisectStep.query(trx)
    .patch({ status: "cancelled" })
    .where({ bisectJobId: job.id, status: "queued" });
  await enqueue(trx, "bisect__finish", { jobId: job.id });
  await notifyJobChanged(trx, job);
}
