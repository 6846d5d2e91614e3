import { BaseModel } from "./base-model";

export type NotifyTarget = "pull-request" | "commit" | "issue" | "none";
/**
 * `bisecting`: a job runs (or ran) for it; `direct`: the red commit's parent was green, so the
 * red commit is the culprit without a run; `fixed`: a green run ended it before an answer;
 * `refused`: no job could be admitted (the reason is in `reportNote`); `reported`: the answer
 * was posted (or kept on the dashboard).
 */
export type AutoState = "bisecting" | "direct" | "fixed" | "refused" | "reported";

/** One breakage of one check on a repository's default branch. */
export class AutoBisection extends BaseModel {
  static override tableName = "auto_bisections";

  id!: number;
  installationId!: number;
  repositoryId!: number;
  checkName!: string;
  greenSha!: string;
  redSha!: string;
  command!: string;
  checkRunUrl!: string | null;
  joinedRuns!: number;
  notify!: NotifyTarget;
  state!: AutoState;
  bisectJobId!: number | null;
  culpritSha!: string | null;
  fixedBySha!: string | null;
  reportUrl!: string | null;
  reportNote!: string | null;
  reportedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;
}
