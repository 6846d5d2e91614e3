// Errors every part of the runner shares.

/** The backend failed (engine unreachable, image missing, …) — never the commit's fault. */
export class InfrastructureError extends Error {
  override name = "InfrastructureError";
}
