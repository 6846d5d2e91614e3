// GitHub's REST API as the signed-in user (their OAuth token): who they are, which installations
// of the app they can see, and those installations' repositories. Responses are validated.
import { z } from "zod";

const TIMEOUT_MS = 10_000;
/** Pages of 100 followed at most (10,000 installations or repositories). */
const MAX_PAGES = 100;

/** The token no longer works (revoked, expired): the user must sign in again. */
export class GitHubAuthError extends Error {
  override name = "GitHubAuthError";
}

export class GitHubApiError extends Error {
  override name = "GitHubApiError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const profileSchema = z.object({
  id: z.number().int().positive(),
  login: z.string().min(1),
  name: z.string().nullable().optional(),
  avatar_url: z.string().nullable().optional(),
});
export type GitHubProfile = z.output<typeof profileSchema>;

const accountSchema = z.object({
  id: z.number().int(),
  login: z.string(),
  type: z.string().optional(),
});

const installationSchema = z.object({
  id: z.number().int().positive(),
  account: accountSchema.nullable(),
  repository_selection: z.enum(["all", "selected"]).optional(),
  suspended_at: z.string().nullable().optional(),
  html_url: z.string().optional(),
});
export type GitHubInstallation = z.output<typeof installationSchema>;

const repositorySchema = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  full_name: z.string(),
  private: z.boolean(),
  html_url: z.string().optional(),
  default_branch: z.string().optional(),
  owner: z.object({ login: z.string() }),
  /** The user's own permissions on the repository (present on user-token listings). */
  permissions: z
    .object({
      admin: z.boolean().optional(),
      maintain: z.boolean().optional(),
      push: z.boolean().optional(),
      triage: z.boolean().optional(),
      pull: z.boolean().optional(),
    })
    .optional(),
});
export type GitHubRepository = z.output<typeof repositorySchema>;

async function request(
  apiUrl: string,
  token: string,
  path: string,
): Promise<{ body: unknown; next: string | null }> {
  const url = path.startsWith("http") ? path : `${apiUrl}${path}`;
  // The token only ever goes to the configured API (a pagination link elsewhere is not followed).
  if (new URL(url).origin !== new URL(apiUrl).origin)
    throw new GitHubApiError("GitHub sent a link to another host", 502);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        Accept: "application/vnd.github+json",
        Authorization: `Bearer ${token}`,
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "bisect-bot",
      },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new GitHubApiError(
      `GitHub could not be reached (${error instanceof Error ? error.message : "network error"})`,
      502,
    );
  }
  if (response.status === 401) {
    await response.body?.cancel();
    throw new GitHubAuthError("GitHub no longer accepts this sign-in");
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new GitHubApiError(
      `GitHub answered ${response.status} to GET ${new URL(url).pathname}`,
      response.status,
    );
  }
  return { body: await response.json(), next: nextLink(response.headers.get("link")) };
}

/** The `rel="next"` URL of a Link header. */
export function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="next"/.exec(part);
    if (m) return m[1]!;
  }
  return null;
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body);
  if (!result.success) throw new GitHubApiError(`GitHub sent an unexpected ${what}`, 502);
  return result.data;
}

export async function fetchProfile(apiUrl: string, token: string): Promise<GitHubProfile> {
  const { body } = await request(apiUrl, token, "/user");
  return parse(profileSchema, body, "user profile");
}

async function paginated<T>(
  apiUrl: string,
  token: string,
  first: string,
  key: string,
  item: z.ZodType<T>,
): Promise<T[]> {
  const pageSchema = z.object({ [key]: z.array(item) }) as unknown as z.ZodType<
    Record<string, T[]>
  >;
  const items: T[] = [];
  let next: string | null = first;
  for (let page = 0; next && page < MAX_PAGES; page++) {
    const result: { body: unknown; next: string | null } = await request(apiUrl, token, next);
    items.push(...parse(pageSchema, result.body, key)[key]!);
    next = result.next;
  }
  return items;
}

/** `GET /user/installations`: the app's installations this user can see. */
export function fetchUserInstallations(
  apiUrl: string,
  token: string,
): Promise<GitHubInstallation[]> {
  return paginated(
    apiUrl,
    token,
    "/user/installations?per_page=100",
    "installations",
    installationSchema,
  );
}

/** `GET /user/installations/:id/repositories`: that installation's repositories this user can see. */
export function fetchInstallationRepositories(
  apiUrl: string,
  token: string,
  installationId: number,
): Promise<GitHubRepository[]> {
  return paginated(
    apiUrl,
    token,
    `/user/installations/${installationId}/repositories?per_page=100`,
    "repositories",
    repositorySchema,
  );
}
