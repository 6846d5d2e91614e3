// The parts of GitHub's webhook payloads the product reads, validated with one schema each.
// Unknown fields pass through untouched; a payload missing what we need fails loudly.
import { z } from "zod";

const account = z.object({
  login: z.string().min(1),
  id: z.number().int(),
  type: z.string().optional(),
});
const person = z.object({
  login: z.string().min(1),
  id: z.number().int(),
  type: z.string().optional(),
});

const installation = z.object({
  id: z.number().int().positive(),
  account: account.nullable().optional(),
  permissions: z.record(z.string(), z.string()).optional(),
  suspended_at: z.string().nullable().optional(),
});

/** A repository as listed in installation events (`full_name` carries the owner). */
const repoLite = z.object({
  id: z.number().int().positive(),
  name: z.string().min(1),
  full_name: z.string().includes("/"),
  private: z.boolean().optional(),
});

export const installationEvent = z.object({
  action: z.string(),
  installation: installation.extend({ account }),
  repositories: z.array(repoLite).optional(),
  sender: person.optional(),
});
export type InstallationEvent = z.output<typeof installationEvent>;

export const installationRepositoriesEvent = z.object({
  action: z.string(),
  installation: installation.extend({ account }),
  repositories_added: z.array(repoLite).default([]),
  repositories_removed: z.array(repoLite.partial({ name: true, full_name: true })).default([]),
  sender: person.optional(),
});
export type InstallationRepositoriesEvent = z.output<typeof installationRepositoriesEvent>;

export const issueCommentEvent = z.object({
  action: z.string(),
  issue: z.object({ number: z.number().int().positive(), pull_request: z.unknown().optional() }),
  comment: z.object({
    id: z.number().int().positive(),
    body: z.string().nullable(),
    user: person,
    author_association: z.string(),
  }),
  repository: z.object({
    id: z.number().int().positive(),
    name: z.string().min(1),
    private: z.boolean(),
    default_branch: z.string().nullable().optional(),
    owner: account,
  }),
  installation: z.object({ id: z.number().int().positive() }),
  sender: person.optional(),
});
export type IssueCommentEvent = z.output<typeof issueCommentEvent>;

/** Bots (this app included) never trigger anything. */
export function isBot(user: { login: string; type?: string }): boolean {
  return user.type === "Bot" || user.login.endsWith("[bot]");
}

export function accountType(type: string | undefined): "User" | "Organization" | "Enterprise" {
  return type === "Organization" || type === "Enterprise" ? type : "User";
}
