import type Docker from "dockerode";
import { inspect } from "node:util";

/**
 * docker-modem formats every request's options for its debug log — `util.inspect` with hidden
 * properties at unlimited depth — whether or not that log is on. The options hold the connection
 * agent, and with a few streams open (attaches, exit waits) formatting it costs tens of ms of
 * blocked event loop per API call. A short description of the agent keeps each call cheap.
 */
export function quietAgent(docker: Docker): void {
  const agent = (docker.modem as { agent?: unknown }).agent;
  if (!agent || typeof agent !== "object") return;
  const target = agent as Record<symbol, unknown>;
  if (target[inspect.custom]) return;
  Object.defineProperty(target, inspect.custom, {
    value: () => `[${agent.constructor?.name ?? "Agent"}]`,
    enumerable: false,
  });
}
