// Usage rows are written only through UsageStat: a month opened for usable installations, and
// runs' compute time added up.
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../../tests/helpers/database";
import { UsageStat } from "./usage-stat";

const db = useTestDatabase();

describe("usage rows", () => {
  it("opens a month for usable installations only, and adds runs' compute time", async () => {
    const k = db.current.knex;
    const installation = (id: number, extra: Record<string, unknown> = {}) =>
      k("installations").insert({
        id,
        accountId: id,
        accountLogin: `a${id}`,
        accountType: "User",
        ...extra,
      });
    await installation(901);
    await installation(902, { operatorSuspendedAt: new Date() });
    await installation(903, { deletedAt: new Date() });
    const month = "2026-03-01";

    expect(await UsageStat.openMonth(k, month)).toBe(1);
    expect(await UsageStat.openMonth(k, month)).toBe(0);

    await UsageStat.addComputeSeconds(k, 901, month, 30);
    await UsageStat.addComputeSeconds(k, 901, month, 12);
    // A month nobody opened: the row is made by the first run.
    await UsageStat.addComputeSeconds(k, 902, month, 5);

    const rows = await UsageStat.query(k).where({ month }).orderBy("installationId");
    expect(rows.map((r) => [r.installationId, r.jobs, r.computeSeconds].map(Number))).toEqual([
      [901, 0, 42],
      [902, 0, 5],
    ]);
  });
});
