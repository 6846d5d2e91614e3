import { BaseModel } from "./base-model";

export const ADMIN_RUN_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type AdminRunStatus = (typeof ADMIN_RUN_STATUSES)[number];

/** One admin command: queued by the command line, run by the `admin__run` task, result kept here. */
export class AdminRun extends BaseModel {
  static override tableName = "admin_runs";

  id!: number;
  /** e.g. `runners.add` (also the audit_log action). */
  command!: string;
  args!: Record<string, unknown>;
  status!: AdminRunStatus;
  result!: unknown;
  error!: string | null;
  requestedBy!: string | null;
  startedAt!: Date | null;
  finishedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;

  get isFinished(): boolean {
    return this.status === "succeeded" || this.status === "failed";
  }

  static override jsonAttributes = ["args", "result"];
}
