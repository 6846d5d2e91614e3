// An ssh runner host's key is pinned when the host is added: connections to any other key are
// refused (a man in the middle would otherwise get the Docker API of the host).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable("runner_hosts", (t) => {
    t.text("ssh_host_key").comment("ssh endpoints: the pinned host key fingerprint (SHA256:…)");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable("runner_hosts", (t) => {
    t.dropColumn("ssh_host_key");
  });
}
