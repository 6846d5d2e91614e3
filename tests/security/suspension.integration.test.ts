// An operator's suspension and GitHub's are separate: GitHub's "unsuspend" does not lift an
// operator's suspension, and an operator's "resume" does not lift GitHub's.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../config/env";
import { Installation } from "../../db/models";
import { resumeInstallation, suspendInstallation } from "../../jobs/admin/installations";
import type { WorkerContext } from "../../jobs/worker-context";
import { useTestDatabase } from "../helpers/database";
import {
  handleQueuedDeliveries,
  INSTALLATION_ID,
  newDeliveryId,
  send,
  startFixture,
  testConfig,
  testContext,
  type Fixture,
} from "../github/support";

const db = useTestDatabase();
let f: Fixture;
let config: Config;
let ctx: WorkerContext;
const knex = () => db.current.knex;
const fixture = (name: string) =>
  JSON.parse(readFileSync(`tests/fixtures/webhooks/${name}.json`, "utf8"));

async function deliver(event: string, payload: unknown) {
  const response = await send(config, knex(), event, payload, { deliveryId: newDeliveryId() });
  expect(response.status).toBe(202);
  return handleQueuedDeliveries(ctx);
}

const installation = async () => (await Installation.query(knex()).findById(INSTALLATION_ID))!;
const args = { installation: String(INSTALLATION_ID) } as never;

beforeAll(async () => {
  f = await startFixture();
  config = testConfig(f, db.current.url);
  ctx = testContext(config, knex(), db.current.url);
  await deliver("installation", fixture("installation.created"));
});

afterAll(async () => {
  await f?.close();
});

describe("suspensions", () => {
  it("GitHub's unsuspend leaves an operator's suspension in force", async () => {
    await suspendInstallation(knex(), args);
    await deliver("installation", fixture("installation.suspend"));
    await deliver("installation", fixture("installation.unsuspend"));
    const inst = await installation();
    expect(inst.operatorSuspendedAt).toBeInstanceOf(Date);
    expect(inst.githubSuspendedAt).toBeNull();
    expect(inst.suspendedAt).toBeInstanceOf(Date);
    await resumeInstallation(knex(), args);
    expect((await installation()).suspendedAt).toBeNull();
  });

  it("an operator's resume leaves GitHub's suspension in force", async () => {
    await deliver("installation", fixture("installation.suspend"));
    await suspendInstallation(knex(), args);
    await resumeInstallation(knex(), args);
    const inst = await installation();
    expect(inst.operatorSuspendedAt).toBeNull();
    expect(inst.githubSuspendedAt).toBeInstanceOf(Date);
    expect(inst.suspendedAt).toBeInstanceOf(Date);
    await deliver("installation", fixture("installation.unsuspend"));
    expect((await installation()).suspendedAt).toBeNull();
  });
});
