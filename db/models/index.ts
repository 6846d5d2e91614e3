export { AdminRun, ADMIN_RUN_STATUSES, type AdminRunStatus } from "./admin-run";
export { AuditLogEntry, type AuditRecord } from "./audit-log-entry";
export { AutoBisection, type AutoState, type NotifyTarget } from "./auto-bisection";
export { BaseModel } from "./base-model";
export {
  BisectJob,
  FINAL_STATUSES,
  JOB_STATUSES,
  OUTCOMES,
  type ImagePull,
  type JobOptions,
  type JobPredicate,
  type VerifyTarget,
  type JobOutcome,
  type JobSource,
  type JobStatus,
} from "./bisect-job";
export { BisectStep, type StepStatus, type StepVerdict } from "./bisect-step";
export { Installation } from "./installation";
export { RateLimit, TIERS, type Tier } from "./rate-limit";
export { Repository } from "./repository";
export { RunnerHost, type RunnerHostState } from "./runner-host";
export { RunnerLease } from "./runner-lease";
export { RunnerCache, type CacheWithHost } from "./runner-cache";
export { RunnerMirror, type MirrorWithHost } from "./runner-mirror";
export { UsageStat, monthOf } from "./usage-stat";
export { tokenAssociatedData, User } from "./user";
export { WebhookDelivery } from "./webhook-delivery";
export { WorkerHeartbeat } from "./worker-heartbeat";
