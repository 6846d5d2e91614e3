// Zero configuration on the GitHub path: the ecosystem table (built in, or the operator's file)
// applied to a root listing, and the chosen image checked against the operator's image policy.
// A refused image falls back to the runner image, without the setup (its tools would be missing).
import type { Config } from "../../config/env";
import { checkImagePolicy, parseImageRef } from "../../runner/images/policy";
import {
  DEFAULT_ECOSYSTEMS,
  detectEcosystem,
  loadEcosystems,
  type EcosystemRule,
} from "../../runner/settings/ecosystems";
import type { JobOptions } from "../../db/models/bisect-job";

type Settings = Pick<Config, "BISECT_ECOSYSTEMS_FILE" | "RUNNER_IMAGE" | "RUNNER_IMAGE_ALLOW">;

const tables = new Map<string, EcosystemRule[]>();

function tableOf(settings: Settings): readonly EcosystemRule[] {
  const file = settings.BISECT_ECOSYSTEMS_FILE;
  if (!file) return DEFAULT_ECOSYSTEMS;
  let table = tables.get(file);
  if (!table) tables.set(file, (table = loadEcosystems(file)));
  return table;
}

export type ZeroConfig = NonNullable<JobOptions["zeroConfig"]>;

/**
 * What is stored with the job as its zero configuration, the rule's variables for the runs, and
 * the paths of the checkout its builds keep between steps (`options.cache`).
 */
export interface ZeroChoice {
  zero: ZeroConfig;
  env?: Record<string, string>;
  cache?: string[];
}

export function chooseEcosystem(settings: Settings, files: readonly string[]): ZeroChoice | null {
  const detected = detectEcosystem(files, tableOf(settings));
  if (!detected) return null;
  const { env, cache, ...choice } = detected;
  const extras = { ...(env ? { env } : {}), ...(cache ? { cache } : {}) };
  if (!choice.image) return { zero: choice, ...extras };
  let refused: string | null;
  try {
    refused = checkImagePolicy(
      { allow: settings.RUNNER_IMAGE_ALLOW, always: [settings.RUNNER_IMAGE] },
      parseImageRef(choice.image),
    );
  } catch (error) {
    refused = (error as Error).message;
  }
  if (!refused) return { zero: choice, ...extras };
  return { zero: { ecosystem: choice.ecosystem, file: choice.file, refusedImage: choice.image } };
}
