// The validated configuration for the web process (start-up already refused an invalid one).
import { loadConfig, type Config } from "../config/env";

let config: Config | undefined;

export function getConfig(): Config {
  // The web process runs without the GitHub App's private key: only the worker acts as the App.
  return (config ??= loadConfig(process.env, undefined, { process: "web" }));
}
