// The moment a job ends, or one of its steps is cancelled (made useless by other verdicts, or by a
// cancel), PostgreSQL notifies `bisect_stop` with the job's id. Workers LISTEN for it
// (jobs/farm/stop-signals.ts) and stop a run whose verdict no longer matters at once. Triggers,
// so that every path that cancels or concludes — today's and tomorrow's — is heard.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function bisect_step_stopped() returns trigger language plpgsql as $$
    begin
      perform pg_notify('bisect_stop', new.bisect_job_id::text);
      return null;
    end $$;
    create trigger bisect_step_stopped after update of status on bisect_steps for each row
      when (new.status = 'cancelled' and old.status is distinct from 'cancelled')
      execute function bisect_step_stopped();
    create function bisect_job_stopped() returns trigger language plpgsql as $$
    begin
      perform pg_notify('bisect_stop', new.id::text);
      return null;
    end $$;
    create trigger bisect_job_stopped after update of status on bisect_jobs for each row
      when (new.status in ('finished', 'failed', 'cancelled') and old.status is distinct from new.status)
      execute function bisect_job_stopped();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop trigger bisect_job_stopped on bisect_jobs;
    drop function bisect_job_stopped();
    drop trigger bisect_step_stopped on bisect_steps;
    drop function bisect_step_stopped();
  `);
}
