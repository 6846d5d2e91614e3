// An operator's suspension and GitHub's are separate states: GitHub's "unsuspend" must not lift
// an operator's suspension, nor an operator's "resume" GitHub's. Writers set one of the two
// columns; `suspended_at` stays as the one readers use — whichever suspension is in force.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("alter table installations rename column suspended_at to github_suspended_at");
  await knex.raw("alter table installations add column operator_suspended_at timestamptz");
  await knex.raw(
    `alter table installations add column suspended_at timestamptz
       generated always as (coalesce(operator_suspended_at, github_suspended_at)) stored`,
  );
  await knex.raw(
    "comment on column installations.suspended_at is 'either suspension in force (generated: write github_suspended_at or operator_suspended_at)'",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("alter table installations drop column suspended_at");
  await knex.raw("alter table installations drop column operator_suspended_at");
  await knex.raw("alter table installations rename column github_suspended_at to suspended_at");
}
