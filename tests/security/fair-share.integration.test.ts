// Fair sharing of runner slots, with PostgreSQL only: an installation never holds more slots than
// its plan allows, and on a full farm free slots go to the waiting installation holding fewest.
import { Model } from "objection";
import { beforeAll, describe, expect, it } from "vitest";
import { RunnerHost } from "../../db/models";
import { acquireLease, fairShareAllows, releaseLease } from "../../jobs/farm/leases";
import { useTestDatabase } from "../helpers/database";

const db = useTestDatabase();
const knex = () => db.current.knex;
const GREEDY = 8101;
const MODEST = 8102;

async function installation(id: number, tier: string) {
  await knex()("installations").insert({
    id,
    accountId: id,
    accountLogin: `org-${id}`,
    accountType: "Organization",
    tier,
  });
}

/** A running job of the installation with `n` queued steps; returns the step ids. */
async function queuedSteps(installationId: number, n: number): Promise<number[]> {
  const [job] = await knex()("bisectJobs")
    .insert({
      installationId,
      source: "github",
      repoUrl: "/srv/r.git",
      goodRef: "a",
      badRef: "b",
      command: "true",
      status: "running",
    })
    .returning("id");
  const rows = await knex()("bisectSteps")
    .insert(
      Array.from({ length: n }, (_, i) => ({
        bisectJobId: job.id,
        sha: String(i).padStart(40, "0"),
        round: 1,
        status: "queued",
      })),
    )
    .returning("id");
  return rows.map((r: { id: number }) => r.id);
}

async function take(installationId: number, stepId: number, maxHeld: number) {
  const lease = await acquireLease(knex(), {
    holder: "w",
    stepId,
    ttlSeconds: 60,
    installationId,
    maxHeld,
  });
  if (lease) await knex()("bisectSteps").where({ id: stepId }).update({ status: "running" });
  return lease;
}

beforeAll(async () => {
  Model.knex(knex());
  await installation(GREEDY, "enterprise");
  await installation(MODEST, "free");
});

describe("fair sharing of runner slots", () => {
  it("keeps the last free slot for a waiting installation holding fewer, and caps each at its plan", async () => {
    const host = await RunnerHost.query(knex()).insert({
      name: "fair-1",
      dockerEndpoint: "unix:///x",
      capacity: 4,
      state: "active",
    });
    const greedy = await queuedSteps(GREEDY, 6);
    const modest = await queuedSteps(MODEST, 3);
    // The greedy installation takes three of four slots while the modest one waits.
    for (const id of greedy.slice(0, 3)) expect(await take(GREEDY, id, 16)).not.toBeNull();
    // One slot is left and the modest installation (holding none) waits: it is kept for it.
    expect(await take(GREEDY, greedy[3]!, 16)).toBeNull();
    const first = await take(MODEST, modest[0]!, 2);
    expect(first?.host.id).toBe(host.id);
    // The farm is full now; a released slot goes to whoever holds fewer: the modest one again…
    const held = await knex()("runnerLeases")
      .whereNull("releasedAt")
      .whereIn("bisectStepId", greedy)
      .first("id");
    await releaseLease(knex(), held.id);
    expect(await take(GREEDY, greedy[3]!, 16)).toBeNull();
    expect(await take(MODEST, modest[1]!, 2)).not.toBeNull();
    // …until it reaches its plan's two slots: then nothing more for it, and the greedy one may use free slots.
    await releaseLease(
      knex(),
      (
        await knex()("runnerLeases")
          .whereNull("releasedAt")
          .whereIn("bisectStepId", greedy)
          .first("id")
      ).id,
    );
    expect(await take(MODEST, modest[2]!, 2)).toBeNull();
    expect(await take(GREEDY, greedy[4]!, 16)).not.toBeNull();
  });

  it("decides from the counts alone (pure rule)", () => {
    const held = new Map([
      [1, 3],
      [2, 0],
    ]);
    const waiting = [{ id: 2, maxHeld: 2 }];
    expect(fairShareAllows({ installationId: 1, mine: 3, free: 1, held, waiting })).toBe(false);
    expect(fairShareAllows({ installationId: 1, mine: 3, free: 2, held, waiting })).toBe(true);
    expect(fairShareAllows({ installationId: 2, mine: 0, free: 1, held, waiting })).toBe(true);
    expect(
      fairShareAllows({ installationId: 1, mine: 3, maxHeld: 3, free: 9, held, waiting: [] }),
    ).toBe(false);
    // A waiting installation at its own cap does not hold slots back from others.
    expect(
      fairShareAllows({ installationId: 1, mine: 3, free: 1, held: new Map([[2, 2]]), waiting }),
    ).toBe(true);
  });
});
