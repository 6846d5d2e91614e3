// The check_run webhook as automatic bisection reads it, and the quick test the webhook route
// uses so that the many check runs of pull requests and other branches never become tasks.
import { z } from "zod";

/** A check run that completed with one of these starts or joins a bisection. */
export const RED_CONCLUSIONS = ["failure"] as const;
/** A check run that completed with this ends a bisection of the same check ("fixed meanwhile"). */
export const GREEN_CONCLUSION = "success";

export const checkRunEvent = z.object({
  action: z.string(),
  check_run: z.object({
    id: z.number().int().positive(),
    name: z.string().min(1).max(500),
    head_sha: z.string().regex(/^[0-9a-f]{40}$/),
    status: z.string(),
    conclusion: z.string().nullable(),
    html_url: z.string().nullable().optional(),
    check_suite: z
      .object({ id: z.number().int(), head_branch: z.string().nullable().optional() })
      .optional(),
  }),
  repository: z.object({
    id: z.number().int().positive(),
    name: z.string().min(1),
    private: z.boolean(),
    default_branch: z.string().nullable().optional(),
    owner: z.object({
      login: z.string().min(1),
      id: z.number().int(),
      type: z.string().optional(),
    }),
  }),
  installation: z.object({ id: z.number().int().positive() }),
});
export type CheckRunEvent = z.output<typeof checkRunEvent>;

export type Colour = "red" | "green";

/** red, green, or null for anything automatic bisection does not act on. */
export function colourOf(conclusion: string | null | undefined): Colour | null {
  if (conclusion === GREEN_CONCLUSION) return "green";
  if ((RED_CONCLUSIONS as readonly string[]).includes(conclusion ?? "")) return "red";
  return null;
}

/**
 * A completed check run on the repository's default branch that turned red or green: the only
 * check_run deliveries that get a task. (Pull requests and other branches are most of them.)
 */
export function isDefaultBranchResult(payload: unknown): boolean {
  const p = payload as {
    action?: unknown;
    check_run?: { conclusion?: unknown; check_suite?: { head_branch?: unknown } };
    repository?: { default_branch?: unknown };
  };
  const branch = p?.check_run?.check_suite?.head_branch;
  return (
    p?.action === "completed" &&
    typeof branch === "string" &&
    branch === p.repository?.default_branch &&
    colourOf(typeof p.check_run?.conclusion === "string" ? p.check_run.conclusion : null) !== null
  );
}
