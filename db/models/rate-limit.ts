import { BaseModel } from "./base-model";

export const TIERS = ["free", "pro", "enterprise"] as const;
export type Tier = (typeof TIERS)[number];

/** A plan's limits. `jobsPerMonth` null means unlimited. */
export class RateLimit extends BaseModel {
  static override tableName = "rate_limits";
  static override idColumn = "tier";

  tier!: Tier;
  jobsPerMonth!: number | null;
  maxDurationSeconds!: number;
  /** Test runs may have network when the repository's default branch asks for it. */
  testNetwork!: boolean;
  /** Runner slots one installation may hold at once; a job's `parallel` is lowered to it. */
  maxParallel!: number;
  maxConcurrent!: number;
  /** Automatic bisections a month (on top of counting as jobs); null means unlimited. */
  autoJobsPerMonth!: number | null;
  /** Resources of one run of a job on this plan (never above the runner hosts' own limits). */
  runMemoryMb!: number;
  runCpus!: number;
  runWorkMb!: number;
  runTimeoutSeconds!: number;
  createdAt!: Date;
  updatedAt!: Date;
}
