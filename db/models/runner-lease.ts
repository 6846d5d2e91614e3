import { BaseModel } from "./base-model";

/** One slot of a runner host, held while a step's container runs. */
export class RunnerLease extends BaseModel {
  static override tableName = "runner_leases";

  id!: number;
  runnerHostId!: number;
  bisectStepId!: number | null;
  holder!: string;
  acquiredAt!: Date;
  expiresAt!: Date;
  releasedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;
}
