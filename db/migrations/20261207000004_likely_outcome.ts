// A single culprit whose confidence is below the "found" threshold is stored as `likely`, so no
// reader (comment, dashboard, API) can mistake it for a sure answer.
import type { Knex } from "knex";

const BEFORE = ["found", "ambiguous", "good-is-bad", "bad-is-good", "flaky", "error", "timeout"];
const AFTER = [...BEFORE, "likely"];

const check = (values: string[]) =>
  `outcome is null or outcome in (${values.map((v) => `'${v}'`).join(", ")})`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table bisect_jobs drop constraint bisect_jobs_outcome_check");
  await knex.raw(
    `alter table bisect_jobs add constraint bisect_jobs_outcome_check check (${check(AFTER)})`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("update bisect_jobs set outcome = 'found' where outcome = 'likely'");
  await knex.raw("alter table bisect_jobs drop constraint bisect_jobs_outcome_check");
  await knex.raw(
    `alter table bisect_jobs add constraint bisect_jobs_outcome_check check (${check(BEFORE)})`,
  );
}
