// Handling one recorded webhook delivery (github__handle_delivery): reload it, dispatch by event,
// mark it processed or ignored. Failures leave it `received` so the task's retry handles it again.
import type { z } from "zod";
import { WebhookDelivery } from "../../db/models";
import type { TaskName } from "../catalog";
import type { WorkerContext } from "../worker-context";
import { handleCheckRun } from "./auto/handle";
import { checkRunEvent } from "./auto/events";
import { handleIssueComment } from "./comments";
import {
  handleInstallationEvent,
  handleInstallationRepositoriesEvent,
  type Handled,
} from "./installations";
import { installationEvent, installationRepositoriesEvent, issueCommentEvent } from "./payloads";

/** The task of a recorded delivery (the webhook recorder queues it with the row). */
export const DELIVERY_TASK = "github__handle_delivery" satisfies TaskName;

function parse<S extends z.ZodType>(schema: S, payload: unknown, event: string): z.output<S> {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join(".") || "payload"}: ${i.message}`);
    throw new MalformedDeliveryError(
      `${event} payload is not as expected (${problems.join("; ")})`,
    );
  }
  return parsed.data;
}

/** The payload cannot be handled, now or later. */
export class MalformedDeliveryError extends Error {
  override name = "MalformedDeliveryError";
}

export async function handleDelivery(
  ctx: WorkerContext,
  deliveryId: string,
  options: { retrying?: boolean } = {},
): Promise<Handled> {
  const delivery = await WebhookDelivery.query(ctx.knex).findById(deliveryId);
  if (!delivery) return { status: "ignored", note: `no delivery ${deliveryId}` };
  if (delivery.status === "processed" || delivery.status === "ignored")
    return { status: delivery.status, note: "already handled" };

  let handled: Handled;
  switch (delivery.event) {
    case "installation":
      handled = await handleInstallationEvent(
        ctx.knex,
        parse(installationEvent, delivery.payload, "installation"),
      );
      break;
    case "installation_repositories":
      handled = await handleInstallationRepositoriesEvent(
        ctx.knex,
        parse(installationRepositoriesEvent, delivery.payload, "installation_repositories"),
      );
      break;
    case "issue_comment":
      handled = await handleIssueComment(
        ctx,
        parse(issueCommentEvent, delivery.payload, "issue_comment"),
        deliveryId,
        options,
      );
      break;
    case "check_run":
      handled = await handleCheckRun(
        ctx,
        parse(checkRunEvent, delivery.payload, "check_run"),
        deliveryId,
      );
      break;
    default:
      handled = { status: "ignored", note: `event ${delivery.event}` };
  }
  await WebhookDelivery.query(ctx.knex)
    .findById(deliveryId)
    .patch({ status: handled.status, processedAt: new Date(), error: null });
  return handled;
}

export async function markDeliveryFailed(
  ctx: WorkerContext,
  deliveryId: string,
  error: unknown,
): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  await WebhookDelivery.query(ctx.knex)
    .findById(deliveryId)
    .patch({ status: "failed", processedAt: new Date(), error: message.slice(0, 2000) });
}
