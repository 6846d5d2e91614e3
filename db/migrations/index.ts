// The ordered list of migrations. A static list (not a directory scan) loads the same way under
// tsx, vitest and bundlers; add each new migration here.
import type { Knex } from "knex";
import * as initial from "./20261126000001_initial";
import * as runnerMirrors from "./20261126000003_runner_mirrors";
import * as instance from "./20261126000004_instance";
import * as metricCounters from "./20261126000006_metric_counters";
import * as sessions from "./20261126000002_sessions";
import * as adminRuns from "./20261126000005_admin_runs";
import * as suspensions from "./20261207000001_suspensions";
import * as planRunLimits from "./20261207000002_plan_run_limits";
import * as runnerHostKeys from "./20261207000003_runner_host_keys";
import * as likelyOutcome from "./20261207000004_likely_outcome";
import * as automaticBisections from "./20261207000010_automatic_bisections";
import * as planResources from "./20261207000011_plan_resources";
import * as runnerImages from "./20261207000012_runner_images";
import * as mirrorRemoteRefs from "./20261207000021_mirror_remote_refs";
import * as runnerCaches from "./20261207000031_runner_caches";
import * as sharedLimits from "./20261207000050_shared_limits";
import * as stopNotifications from "./20261207000060_stop_notifications";

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrations: Record<string, Migration> = {
  "20261126000001_initial": initial,
  "20261126000003_runner_mirrors": runnerMirrors,
  "20261126000004_instance": instance,
  "20261126000006_metric_counters": metricCounters,
  "20261126000002_sessions": sessions,
  "20261126000005_admin_runs": adminRuns,
  "20261207000001_suspensions": suspensions,
  "20261207000002_plan_run_limits": planRunLimits,
  "20261207000003_runner_host_keys": runnerHostKeys,
  "20261207000004_likely_outcome": likelyOutcome,
  "20261207000010_automatic_bisections": automaticBisections,
  "20261207000011_plan_resources": planResources,
  "20261207000012_runner_images": runnerImages,
  "20261207000021_mirror_remote_refs": mirrorRemoteRefs,
  "20261207000031_runner_caches": runnerCaches,
  "20261207000050_shared_limits": sharedLimits,
  "20261207000060_stop_notifications": stopNotifications,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
