// The GitHub webhook: verify the signature on the raw body, record the delivery once (by
// X-GitHub-Delivery), and enqueue its handling in the same statement. Nothing here calls GitHub
// or Docker, so GitHub gets its answer in milliseconds; everything slow is a job.
import { Webhooks } from "@octokit/webhooks";
import type { Knex } from "knex";
import { z } from "zod";
import { AuditLogEntry } from "../db/models";
import type { Config } from "../config/env";
import { mentionsBisect } from "../jobs/github/command";
import { isDefaultBranchResult } from "../jobs/github/auto/events";
import { DELIVERY_TASK } from "../jobs/github/deliveries";
import { isBot, issueCommentEvent } from "../jobs/github/payloads";
import { BodyBudget, readSignedBody } from "./webhook-body.server";
import { recorderFor } from "./webhook-recorder.server";

/** Events and actions handled by a task; any other delivery is recorded as ignored. */
const HANDLED: Record<string, readonly string[]> = {
  installation: ["created", "deleted", "suspend", "unsuspend", "new_permissions_accepted"],
  installation_repositories: ["added", "removed"],
  issue_comment: ["created"],
  check_run: ["completed"],
};

export interface WebhookDeps {
  config: Config;
  /** Called only once the request is known to need the database (not in setup mode). */
  db: () => Knex;
  /** The client's address as the server sees it (behind trusted proxies), for the audit log. */
  ip?: string | null;
  /** Refused deliveries written to audit_log per minute in this process (default 60). */
  auditPerMinute?: number;
  /** Bytes of bodies held at once (default: this process's, WEBHOOK_BODY_BUDGET_BYTES). */
  bodyBudget?: BodyBudget;
}

let processBudget: BodyBudget | null = null;
function budgetOf(config: Config): BodyBudget {
  if (processBudget?.total !== config.WEBHOOK_BODY_BUDGET_BYTES)
    processBudget = new BodyBudget(config.WEBHOOK_BODY_BUDGET_BYTES);
  return processBudget;
}

/**
 * A bound on audit rows for refused deliveries: a flood of unsigned requests must not become a
 * flood of database writes. Past the bound in a minute, refusals are only counted, and the count
 * goes into the next row written.
 */
class AuditBudget {
  private windowStart = 0;
  private used = 0;
  private skipped = 0;

  /** null: do not write; otherwise the number of refusals left unwritten since the last row. */
  take(limit: number, now = Date.now()): number | null {
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= limit) {
      this.skipped++;
      return null;
    }
    this.used++;
    const skipped = this.skipped;
    this.skipped = 0;
    return skipped;
  }
}
const auditBudget = new AuditBudget();
const SIGNATURE_FORMAT = /^sha256=[0-9a-f]{64}$/;

const envelope = z.object({
  action: z.string().optional(),
  installation: z.object({ id: z.number().int() }).optional(),
  comment: z
    .object({
      body: z.string().nullable().optional(),
      user: z.object({ login: z.string(), type: z.string().optional() }).optional(),
    })
    .optional(),
});

function json(
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Response {
  return Response.json(body, { status, headers: { "Cache-Control": "no-store", ...headers } });
}

const LONE_SURROGATE_OR_NUL =
  // eslint-disable-next-line no-control-regex
  /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const jsonbSafe = (_key: string, value: unknown) =>
  typeof value === "string" ? value.replace(LONE_SURROGATE_OR_NUL, "\ufffd") : value;

/**
 * What is stored of a delivery for its task. A comment keeps the fields the task reads (its one
 * schema, jobs/github/payloads.ts) — about a tenth of GitHub's payload; other events are kept
 * whole. jsonb cannot hold U+0000 nor unpaired surrogates (both valid JSON): the rare string
 * carrying one is stored with U+FFFD in its place. The signature was checked on the original.
 */
export function storablePayload(raw: string, event?: string, parsed?: unknown): string {
  if (event === "issue_comment" && parsed !== undefined) {
    const comment = issueCommentEvent.safeParse(parsed);
    if (comment.success) return JSON.stringify(comment.data, jsonbSafe);
  }
  if (!/\\u(?:0000|d[89a-f])/i.test(raw)) return raw;
  return JSON.stringify(JSON.parse(raw), jsonbSafe);
}

const verifiers = new Map<string, Webhooks>();
/** @octokit/webhooks' check (constant time) with the current secret, then (while GitHub is switched over) the previous one. */
async function verifySignature(
  body: string,
  signature: string,
  secrets: Array<string | null | undefined>,
): Promise<boolean> {
  for (const secret of secrets) {
    if (!secret) continue;
    let webhooks = verifiers.get(secret);
    if (!webhooks) verifiers.set(secret, (webhooks = new Webhooks({ secret })));
    if (await webhooks.verify(body, signature).catch(() => false)) return true;
  }
  return false;
}

export async function receiveWebhook(request: Request, deps: WebhookDeps): Promise<Response> {
  const github = deps.config.github;
  if (!github) {
    return json(503, {
      error: "setup mode",
      message: `Bisect Bot has no GitHub App configured yet, so it cannot accept webhooks. Set ${deps.config.githubMissing.join(", ")} (see .env.example) and restart.`,
    });
  }
  if (request.method !== "POST")
    return json(405, { error: "method not allowed" }, { Allow: "POST" });

  const deliveryId = request.headers.get("x-github-delivery") ?? "";
  const event = request.headers.get("x-github-event") ?? "";
  const signature = request.headers.get("x-hub-signature-256") ?? "";
  const limit = deps.config.WEBHOOK_MAX_BODY_BYTES;
  const tooLarge = () => json(413, { error: "payload too large", limit });
  const length = request.headers.get("content-length");
  const declared = length !== null && /^\d+$/.test(length) ? Number(length) : null;
  // Headers first: a body over the limit is refused before a byte of it is read.
  if (declared !== null && declared > limit) return tooLarge();
  let body = "";
  let bytes = 0;
  let valid = false;
  if (SIGNATURE_FORMAT.test(signature)) {
    const read = await readSignedBody(request, {
      limit,
      declared,
      budget: deps.bodyBudget ?? budgetOf(deps.config),
      verify: (text) =>
        verifySignature(text, signature, [github.webhookSecret, github.previousWebhookSecret]),
    });
    if (read.kind === "too-large") return tooLarge();
    if (read.kind === "busy")
      return json(
        503,
        { error: "too many webhook bodies in flight; retry shortly" },
        { "Retry-After": "5" },
      );
    ({ body, valid, bytes } = read);
  } else if (request.body) {
    // Without a well-formed signature the body is never kept: read to the end (a proxy in front
    // expects the upload consumed) and dropped, and not past the limit.
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > limit) {
        await reader.cancel().catch(() => {});
        return tooLarge();
      }
    }
  }

  if (!valid) {
    const unrecorded = auditBudget.take(deps.auditPerMinute ?? 60);
    // Who tried and what, never the body or the signature.
    if (unrecorded !== null)
      await AuditLogEntry.record(deps.db(), {
        actor: "system",
        action: signature ? "webhook.signature_invalid" : "webhook.signature_missing",
        subjectType: "webhook_delivery",
        subjectId: deliveryId.slice(0, 100) || null,
        details: {
          event: event.slice(0, 100),
          bytes,
          userAgent: request.headers.get("user-agent")?.slice(0, 200) ?? null,
          ...(unrecorded > 0 ? { unrecordedBefore: unrecorded } : {}),
        },
        ip: deps.ip ?? null,
      }).catch((e: unknown) =>
        console.error(
          JSON.stringify({
            level: "error",
            component: "webhook",
            message: `audit insert failed: ${(e as Error).message}`,
          }),
        ),
      );
    return json(401, {
      error: signature ? "signature does not match" : "missing X-Hub-Signature-256",
    });
  }

  if (!/^[A-Za-z0-9-]{1,100}$/.test(deliveryId))
    return json(400, { error: "missing or malformed X-GitHub-Delivery" });
  // GitHub's event names: letters, digits and underscores (`projects_v2_item`); unknown ones are ignored.
  if (!/^[A-Za-z0-9][A-Za-z0-9_]{0,63}$/.test(event))
    return json(400, { error: "missing or malformed X-GitHub-Event" });
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return json(400, {
      error: "malformed JSON (the webhook's content type must be application/json)",
    });
  }
  const parsed = envelope.safeParse(payload);
  if (
    !parsed.success ||
    typeof payload !== "object" ||
    payload === null ||
    Array.isArray(payload)
  ) {
    return json(400, { error: "the payload is not a webhook event object" });
  }
  const { action, installation, comment } = parsed.data;

  let handled = event !== "ping" && (HANDLED[event]?.includes(action ?? "") ?? false);
  // Comments that cannot be commands (most of them) need no task.
  if (
    handled &&
    event === "issue_comment" &&
    (!comment || !mentionsBisect(comment.body ?? "") || (comment.user && isBot(comment.user)))
  )
    handled = false;
  // Only results on the default branch can start or end an automatic bisection.
  if (handled && event === "check_run" && !isDefaultBranchResult(payload)) handled = false;
  const status = event === "ping" ? "processed" : handled ? "received" : "ignored";

  // The row and, when it is new, its task: one statement, committed before the answer.
  const inserted = await recorderFor(deps.db(), DELIVERY_TASK).record({
    id: deliveryId,
    event,
    action: action ?? null,
    installationId: installation?.id ?? null,
    payload: handled ? storablePayload(body, event, payload) : null,
    status,
    enqueue: handled,
  });
  if (!inserted) return json(200, { status: "duplicate", delivery: deliveryId });
  if (event === "ping") return json(200, { status: "pong", delivery: deliveryId });
  return json(handled ? 202 : 200, {
    status: handled ? "queued" : "ignored",
    delivery: deliveryId,
  });
}
