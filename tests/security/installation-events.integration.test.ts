// Installation events change only what they may: an operator's suspension and GitHub's are separate
// (GitHub's "unsuspend" does not lift an operator's suspension, nor an operator's "resume" GitHub's),
// and a "repositories removed" event touches only its own installation's repositories.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../config/env";
import { BisectJob, Installation, Repository } from "../../db/models";
import { resumeInstallation, suspendInstallation } from "../../jobs/admin/installations";
import type { WorkerContext } from "../../jobs/worker-context";
import { useTestDatabase } from "../helpers/database";
import {
  handleQueuedDeliveries,
  INSTALLATION_ID,
  REPO,
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

describe("a repositories-removed event", () => {
  it("from another installation leaves this installation's repository and jobs alone", async () => {
    await knex()("repositories")
      .insert({ id: REPO.id, installationId: INSTALLATION_ID, owner: REPO.owner, name: REPO.name })
      .onConflict("id")
      .ignore();
    const [row] = await knex()("bisectJobs")
      .insert({
        installationId: INSTALLATION_ID,
        repositoryId: REPO.id,
        source: "github",
        goodRef: "v1",
        badRef: "main",
        command: "./test.sh",
        status: "running",
      })
      .returning("id");
    const event = fixture("installation_repositories.removed");
    event.installation = {
      ...event.installation,
      id: 777001,
      account: { ...event.installation.account, login: "mallory-org", id: 777002 },
    };
    event.repositories_removed = [
      {
        ...event.repositories_removed[0],
        id: REPO.id,
        name: REPO.name,
        full_name: `${REPO.owner}/${REPO.name}`,
      },
    ];
    await deliver("installation_repositories", event);
    expect((await Repository.query(knex()).findById(REPO.id))!.removedAt).toBeNull();
    expect((await BisectJob.query(knex()).findById(row.id))!.status).toBe("running");
  });
});
