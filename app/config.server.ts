// The validated configuration for the web process (start-up already refused an invalid one).
import { loadConfig, type Config } from "../config/env";

let config: Config | undefined;

export function getConfig(): Config {
  return (config ??= loadConfig());
}
