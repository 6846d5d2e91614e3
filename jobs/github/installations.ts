// Keeping installations and their repositories in step with GitHub. An installation deleted or
// suspended (or a repository taken away from it) stops its jobs and frees its mirrors.
import type { Knex } from "knex";
import {
  BisectJob,
  FINAL_STATUSES,
  Installation,
  Repository,
  type JobStatus,
} from "../../db/models";
import { cancelJob } from "../bisection/control";
import { enqueueMirrorPurge } from "../farm/mirrors";
import {
  accountType,
  type InstallationEvent,
  type InstallationRepositoriesEvent,
} from "./payloads";

export interface Handled {
  status: "processed" | "ignored";
  note: string;
}

type InstallationData = InstallationEvent["installation"];

export async function upsertInstallation(
  knex: Knex | Knex.Transaction,
  data: InstallationData,
  /** githubSuspendedAt: GitHub's suspension only; an operator's (admin CLI) is never touched here. */
  changes: { deletedAt?: Date | null; githubSuspendedAt?: Date | null } = {},
): Promise<void> {
  const row: Record<string, unknown> = {
    id: data.id,
    accountId: data.account.id,
    accountLogin: data.account.login,
    accountType: accountType(data.account.type),
    permissions: JSON.stringify(data.permissions ?? {}),
    deletedAt: changes.deletedAt === undefined ? null : changes.deletedAt,
  };
  const merge = ["accountId", "accountLogin", "accountType", "permissions", "deletedAt"];
  if (changes.githubSuspendedAt !== undefined) {
    row.githubSuspendedAt = changes.githubSuspendedAt;
    merge.push("githubSuspendedAt");
  } else {
    row.githubSuspendedAt = data.suspended_at ? new Date(data.suspended_at) : null;
  }
  await knex("installations").insert(row).onConflict("id").merge(merge);
}

/** An installation seen only through a repository event (installed before this database existed). */
export async function ensureInstallation(
  knex: Knex,
  id: number,
  owner: { login: string; id: number; type?: string },
): Promise<Installation> {
  await knex("installations")
    .insert({
      id,
      accountId: owner.id,
      accountLogin: owner.login,
      accountType: accountType(owner.type),
    })
    .onConflict("id")
    .ignore();
  return (await Installation.query(knex).findById(id))!;
}

export async function upsertRepositories(
  knex: Knex | Knex.Transaction,
  installationId: number,
  repos: Array<{
    id: number;
    owner: string;
    name: string;
    private?: boolean;
    defaultBranch?: string | null;
  }>,
): Promise<void> {
  if (repos.length === 0) return;
  const rows = repos.map((r) => ({
    id: r.id,
    installationId,
    owner: r.owner,
    name: r.name,
    private: r.private ?? false,
    ...(r.defaultBranch !== undefined ? { defaultBranch: r.defaultBranch } : {}),
    removedAt: null,
  }));
  // Rows with and without a default branch merge different columns.
  for (const group of [
    rows.filter((r) => "defaultBranch" in r),
    rows.filter((r) => !("defaultBranch" in r)),
  ]) {
    if (group.length === 0) continue;
    const columns = [
      "installationId",
      "owner",
      "name",
      "private",
      "removedAt",
      ...("defaultBranch" in group[0]! ? ["defaultBranch"] : []),
    ];
    await knex("repositories").insert(group).onConflict("id").merge(columns);
  }
}

const splitName = (r: { name?: string; full_name?: string }) => {
  const [owner, name] = (r.full_name ?? "").split("/");
  return { owner: owner ?? "", name: name ?? r.name ?? "" };
};

/** Cancels the active jobs matching `where`; returns how many were cancelled. */
async function cancelActiveJobs(
  knex: Knex,
  where: (q: ReturnType<typeof BisectJob.query>) => void,
  actor: string,
  reason: string,
): Promise<number> {
  const query = BisectJob.query(knex)
    .whereNotIn("status", FINAL_STATUSES as JobStatus[])
    .select("id");
  where(query);
  let cancelled = 0;
  for (const { id } of await query)
    if (await cancelJob(knex, id, { login: actor }, reason)) cancelled++;
  return cancelled;
}

export async function handleInstallationEvent(
  knex: Knex,
  event: InstallationEvent,
): Promise<Handled> {
  const inst = event.installation;
  const actor = event.sender?.login ?? "system";
  const listed = (event.repositories ?? []).map((r) => ({
    id: r.id,
    ...splitName(r),
    private: r.private,
  }));
  switch (event.action) {
    case "created":
    case "new_permissions_accepted":
    case "unsuspend": {
      await knex.transaction(async (trx) => {
        await upsertInstallation(
          trx,
          inst,
          event.action === "unsuspend" ? { githubSuspendedAt: null } : {},
        );
        await upsertRepositories(trx, inst.id, listed);
      });
      return {
        status: "processed",
        note: `installation ${inst.id} (${inst.account.login}) ${event.action}`,
      };
    }
    case "deleted":
    case "suspend": {
      const deleted = event.action === "deleted";
      const now = new Date();
      // Marked first, so no new job starts while the running ones are being cancelled.
      await knex.transaction(async (trx) => {
        await upsertInstallation(
          trx,
          inst,
          deleted ? { deletedAt: now } : { githubSuspendedAt: now },
        );
        await upsertRepositories(trx, inst.id, listed);
        if (deleted)
          await trx("repositories")
            .where({ installationId: inst.id })
            .whereNull("removedAt")
            .update({ removedAt: now });
      });
      const reason = deleted ? "the app was uninstalled" : "the installation was suspended";
      const cancelled = await cancelActiveJobs(
        knex,
        (q) => q.where({ installationId: inst.id }),
        actor,
        reason,
      );
      const repositoryIds = (
        await Repository.query(knex).where({ installationId: inst.id }).select("id")
      ).map((r) => r.id);
      await enqueueMirrorPurge(knex, repositoryIds);
      return {
        status: "processed",
        note: `installation ${inst.id} ${event.action}: ${cancelled} job(s) cancelled, ${repositoryIds.length} mirror(s) purged`,
      };
    }
    default:
      return { status: "ignored", note: `installation action ${event.action}` };
  }
}

export async function handleInstallationRepositoriesEvent(
  knex: Knex,
  event: InstallationRepositoriesEvent,
): Promise<Handled> {
  const inst = event.installation;
  const actor = event.sender?.login ?? "system";
  if (event.action !== "added" && event.action !== "removed")
    return { status: "ignored", note: `installation_repositories action ${event.action}` };
  const listedIds = event.repositories_removed.map((r) => r.id);
  // Only this installation's repositories: an event never reaches another installation's rows.
  const removedIds: number[] = listedIds.length
    ? await knex("repositories")
        .whereIn("id", listedIds)
        .where({ installationId: inst.id })
        .pluck("id")
    : [];
  await knex.transaction(async (trx) => {
    // Keep the account and permissions current; never resurrect a deleted installation here.
    await trx("installations")
      .insert({
        id: inst.id,
        accountId: inst.account.id,
        accountLogin: inst.account.login,
        accountType: accountType(inst.account.type),
        permissions: JSON.stringify(inst.permissions ?? {}),
      })
      .onConflict("id")
      .merge(["accountId", "accountLogin", "accountType", "permissions"]);
    await upsertRepositories(
      trx,
      inst.id,
      event.repositories_added.map((r) => ({ id: r.id, ...splitName(r), private: r.private })),
    );
    if (removedIds.length)
      await trx("repositories")
        .whereIn("id", removedIds)
        .where({ installationId: inst.id })
        .whereNull("removedAt")
        .update({ removedAt: new Date() });
  });
  let cancelled = 0;
  if (removedIds.length) {
    cancelled = await cancelActiveJobs(
      knex,
      (q) => q.whereIn("repositoryId", removedIds).where({ installationId: inst.id }),
      actor,
      "the repository was removed from the installation",
    );
    await enqueueMirrorPurge(knex, removedIds);
  }
  return {
    status: "processed",
    note: `installation ${inst.id}: ${event.repositories_added.length} repositories added, ${removedIds.length} removed, ${cancelled} job(s) cancelled`,
  };
}
