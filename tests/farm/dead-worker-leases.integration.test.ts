// A worker killed while it held a runner slot (a mirror fetch's lease lives 15 minutes) or a
// mirror's fetch lock gives them back when its death is noticed, with its locked tasks — not when
// they expire (other workers wait on the fetch lock, then give the repository up).
import { describe, expect, it } from "vitest";
import { enqueue } from "../../jobs/catalog";
import { unlockDeadWorkers } from "../../jobs/heartbeat";
import { registerHost } from "../../jobs/farm/hosts";
import { acquireLease } from "../../jobs/farm/leases";
import { RunnerMirror } from "../../db/models";
import { useTestDatabase } from "../helpers/database";

const db = useTestDatabase();
const DEAD_AFTER_MS = 4_000;

describe("a dead worker's runner leases and mirror fetches", () => {
  it("are released with its tasks; a live worker's are kept", async () => {
    const k = db.current.knex;
    await registerHost(k, {
      name: "slots",
      dockerEndpoint: "tcp://runner.invalid:2376",
      capacity: 2,
      source: "admin",
    });
    await k("runner_hosts").update({ state: "active" });
    const dead = (await acquireLease(k, { holder: "worker-killed", ttlSeconds: 15 * 60 }))!;
    const live = (await acquireLease(k, { holder: "worker-alive", ttlSeconds: 15 * 60 }))!;
    const hostId = (await k("runner_hosts").first("id")).id as number;
    const fetching = await RunnerMirror.ensure(k, hostId, "github:1", "bisect-mirror-dead");
    const fetchingToo = await RunnerMirror.ensure(k, hostId, "github:2", "bisect-mirror-live");
    expect(await fetching.lockFetch(k, "worker-killed", 15 * 60)).toBe(true);
    expect(await fetchingToo.lockFetch(k, "worker-alive", 15 * 60)).toBe(true);
    await k("worker_heartbeats").insert([
      {
        workerId: "worker-killed",
        hostname: "gone",
        pid: 1,
        lastBeatAt: k.raw("now() - interval '60 seconds'"),
      },
      { workerId: "worker-alive", hostname: "here", pid: 2, lastBeatAt: k.fn.now() },
    ]);
    // The task it was running, locked as a kill -9 leaves it.
    await enqueue(
      k,
      "bisect__prepare",
      { jobId: 424242 },
      { runAt: new Date(Date.now() + 3_600_000) },
    );
    await k.raw(
      "update graphile_worker._private_jobs set locked_by = 'worker-killed', locked_at = now() where payload->>'jobId' = '424242'",
    );

    expect(await unlockDeadWorkers(k, DEAD_AFTER_MS)).toEqual(["worker-killed"]);
    const leases = await k("runner_leases")
      .whereIn("id", [dead.lease.id, live.lease.id])
      .orderBy("id");
    expect(
      leases.map((l: { holder: string; releasedAt: Date | null }) => [
        l.holder,
        l.releasedAt !== null,
      ]),
    ).toEqual([
      ["worker-killed", true],
      ["worker-alive", false],
    ]);
    // The dead worker's fetch lock is free for another worker; the live one's is still held.
    expect(await fetching.lockFetch(k, "worker-other", 60)).toBe(true);
    expect(await fetchingToo.lockFetch(k, "worker-other", 60)).toBe(false);
  });
});
