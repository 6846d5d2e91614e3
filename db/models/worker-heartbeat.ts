import { BaseModel } from "./base-model";

/** A running worker's last sign of life; a stale one means its graphile-worker locks can be freed. */
export class WorkerHeartbeat extends BaseModel {
  static override tableName = "worker_heartbeats";
  static override idColumn = "workerId";

  workerId!: string;
  hostname!: string;
  pid!: number;
  startedAt!: Date;
  lastBeatAt!: Date;
}
