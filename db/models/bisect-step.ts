import { type Modifiers, type QueryBuilder } from "objection";
import { BaseModel } from "./base-model";
import { BisectJob } from "./bisect-job";
import { RunnerHost } from "./runner-host";

export type StepStatus = "queued" | "running" | "done" | "cancelled";
export type StepVerdict = "good" | "bad" | "skip" | "error";

export class BisectStep extends BaseModel {
  static override tableName = "bisect_steps";

  id!: number;
  bisectJobId!: number;
  sha!: string;
  round!: number;
  attempt!: number;
  status!: StepStatus;
  verdict!: StepVerdict | null;
  reason!: string | null;
  exitCode!: number | null;
  runnerHostId!: number | null;
  durationMs!: number | null;
  logExcerpt!: string | null;
  startedAt!: Date | null;
  finishedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;

  static override modifiers: Modifiers<QueryBuilder<BisectStep>> = {
    done(query) {
      query.where("bisectSteps.status", "done");
    },
    inFlight(query) {
      query.whereIn("bisectSteps.status", ["queued", "running"]);
    },
    inOrder(query) {
      query.orderBy("bisectSteps.round").orderBy("bisectSteps.id");
    },
  };

  static override relationMappings = () => ({
    job: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: BisectJob,
      join: { from: "bisectSteps.bisectJobId", to: "bisectJobs.id" },
    },
    host: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: RunnerHost,
      join: { from: "bisectSteps.runnerHostId", to: "runnerHosts.id" },
    },
  });
}
