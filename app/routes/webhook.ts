// POST /webhook — GitHub App deliveries (see app/webhook.server.ts).
import type { ActionFunctionArgs } from "@remix-run/node";
import { getConfig } from "../config.server";
import { getDb } from "../db.server";
import { clientIp } from "../load-context";
import { receiveWebhook } from "../webhook.server";

export async function action({ request, context }: ActionFunctionArgs) {
  return receiveWebhook(request, { config: getConfig(), db: getDb, ip: clientIp(context) });
}

export async function loader() {
  return Response.json(
    { error: "method not allowed: GitHub sends webhooks with POST" },
    { status: 405, headers: { Allow: "POST" } },
  );
}
