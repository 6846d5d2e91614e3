import { type Modifiers, type QueryBuilder } from "objection";
import { BaseModel } from "./base-model";
import { BisectStep } from "./bisect-step";
import { Installation } from "./installation";
import { Repository } from "./repository";

export const JOB_STATUSES = [
  "queued",
  "preparing",
  "running",
  "finished",
  "failed",
  "cancelled",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** Statuses after which nothing more happens to a job. */
export const FINAL_STATUSES: readonly JobStatus[] = ["finished", "failed", "cancelled"];
/** `likely`: one culprit, but with a confidence below the threshold for `found`. */
export const OUTCOMES = [
  "found",
  "likely",
  "ambiguous",
  "good-is-bad",
  "bad-is-good",
  "flaky",
  "error",
  "timeout",
] as const;
export type JobOutcome = (typeof OUTCOMES)[number];
/** `auto`: started by a configured check turning red on the default branch (no comment). */
export type JobSource = "github" | "cli" | "dashboard" | "admin" | "auto";

/** What the requester chose; stored as JSON so new options need no migration. */
/**
 * What a run's outcome means, normalised (the runner's `Predicate`; repeated here because db
 * imports nothing of the runner — the shapes are checked against each other where jobs use it).
 */
export interface JobPredicate {
  crash: "bad" | "skip";
  timeout: "bad" | "skip";
  badIfOutput?: string;
  find: "regression" | "fix";
  runs: number;
  failThreshold: number;
  flaky: boolean;
}

/** A follow-up job that re-runs another job's culprit and its parent (`/bisect verify`). */
export interface VerifyTarget {
  /** The job whose answer is checked. */
  jobId: number;
  culprit: string;
  parent: string;
  /** Runs of each of the two commits. */
  runs: number;
}

export interface JobOptions {
  /** Equal to `predicate.runs` / `predicate.failThreshold` when a predicate is stored. */
  runs?: number;
  failThreshold?: number;
  predicate?: JobPredicate;
  verify?: VerifyTarget;
  parallel?: number;
  timeoutSeconds?: number;
  firstParent?: boolean;
  /** The test (and the setup) reach the network; only where the plan allows it. */
  network?: boolean;
  /** The setup reaches the network while the test has none (`network: setup`). */
  setupNetwork?: boolean;
  image?: string;
  /** `image` pinned by registry digest when the job started: every step runs on these bytes. */
  imagePinned?: string;
  /** Only commits touching these paths are tested (git pathspec). */
  pathspec?: string[];
  /**
   * Chosen from the files at the bad revision's root because bisect.yml names no image or setup;
   * `refusedImage` when the operator's image policy refused the image the table picked.
   */
  zeroConfig?: {
    ecosystem: string;
    file: string;
    image?: string;
    setup?: string;
    /** "setup": the setup downloads dependencies and asked for network. */
    network?: "setup";
    refusedImage?: string;
  };
  /**
   * bisect.yml's `cache:`: false turns the repository's dependency cache off; paths of the
   * checkout kept between steps on a host (restored before the setup, saved after it).
   */
  cache?: false | string[];
  /** Non-secret variables for the setup and the test (`env:` of bisect.yml), shown in the comment. */
  env?: Record<string, string>;
  /** The plan's limit on the whole job's wall time. */
  maxDurationSeconds?: number;
  /** The plan's resources for one run when the job was admitted (MiB, CPUs). */
  resources?: { memoryMb: number; cpus: number; workMb: number };
}

export interface ImagePull {
  image: string;
  host: string;
  /** Bytes downloaded and announced so far (compressed layers). */
  doneBytes: number;
  totalBytes: number;
  startedAt: string;
}

export class BisectJob extends BaseModel {
  static override tableName = "bisect_jobs";

  id!: number;
  installationId!: number | null;
  repositoryId!: number | null;
  source!: JobSource;
  repoUrl!: string | null;
  issueNumber!: number | null;
  triggerCommentId!: number | null;
  deliveryId!: string | null;
  requesterLogin!: string | null;
  requesterId!: number | null;
  goodRef!: string;
  badRef!: string;
  goodSha!: string | null;
  badSha!: string | null;
  command!: string;
  setupCommand!: string | null;
  options!: JobOptions;
  graph!: unknown;
  commitCount!: number | null;
  status!: JobStatus;
  outcome!: JobOutcome | null;
  culpritSha!: string | null;
  candidates!: string[] | null;
  confidence!: number | null;
  explanation!: string | null;
  error!: string | null;
  rounds!: number;
  statusCommentId!: number | null;
  /** An image pull the job waits for (shown while it lasts). */
  imagePull!: ImagePull | null;
  retryOfJobId!: number | null;
  startedAt!: Date | null;
  finishedAt!: Date | null;
  cancelRequestedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;

  get isFinal(): boolean {
    return FINAL_STATUSES.includes(this.status);
  }

  static override jsonAttributes = ["options", "graph", "candidates", "imagePull"];

  static override modifiers: Modifiers<QueryBuilder<BisectJob>> = {
    /** Not yet finished, failed or cancelled. */
    active(query) {
      query.whereNotIn("bisectJobs.status", FINAL_STATUSES as JobStatus[]);
    },
    newestFirst(query) {
      query.orderBy("bisectJobs.createdAt", "desc").orderBy("bisectJobs.id", "desc");
    },
  };

  static override relationMappings = () => ({
    repository: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: Repository,
      join: { from: "bisectJobs.repositoryId", to: "repositories.id" },
    },
    installation: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: Installation,
      join: { from: "bisectJobs.installationId", to: "installations.id" },
    },
    steps: {
      relation: BaseModel.HasManyRelation,
      modelClass: BisectStep,
      join: { from: "bisectJobs.id", to: "bisectSteps.bisectJobId" },
    },
  });
}
