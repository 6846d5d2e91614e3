// Installation events change only what they may: an operator's suspension and GitHub's are separate
// (GitHub's "unsuspend" does not lift an operator's suspension, nor an operator's "resume" GitHub's),
// and a "repositories removed" event touches only its own installation's repositories.
import { describe, expect, it } from "vitest";
import { BisectJob, Installation, Repository } from "../../db/models";
import { resumeInstallation, suspendInstallation } from "../../jobs/admin/installations";
import { useTestDatabase } from "../helpers/database";
import { useInstalledApp, webhookFixture as fixture } from "../github/installed";
import { INSTALLATION_ID, REPO } from "../github/support";

const db = useTestDatabase();
const app = useInstalledApp(db);
const knex = () => db.current.knex;
const deliver = app.deliver;

const installation = async () => (await Installation.query(knex()).findById(INSTALLATION_ID))!;
const args = { installation: String(INSTALLATION_ID) } as never;

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
