// Calling route modules' loaders and actions directly, with a small cookie jar.
import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";

type Loader = (args: LoaderFunctionArgs) => Promise<unknown>;
type Action = (args: ActionFunctionArgs) => Promise<unknown>;

/** The Response a loader or action returned or threw (a thrown non-Response is rethrown). */
export async function settle(run: () => Promise<unknown>): Promise<Response> {
  try {
    const value = await run();
    if (value instanceof Response) return value;
    return Response.json(value);
  } catch (thrown) {
    if (thrown instanceof Response) return thrown;
    throw thrown;
  }
}

/** Plain data a loader returned (fails when it returned or threw a Response). */
export async function dataOf<T>(run: () => Promise<T>): Promise<T> {
  const value = await run();
  if (value instanceof Response) throw new Error(`expected data, got a ${value.status} response`);
  return value;
}

export class CookieJar {
  private cookies = new Map<string, string>();

  /** Applies every Set-Cookie of a response (Max-Age=0 or a past Expires deletes). */
  take(response: Response): this {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(";").map((s) => s.trim());
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const expired = attrs.some(
        (a) =>
          /^max-age=0$/i.test(a) ||
          (/^expires=/i.test(a) && new Date(a.slice(8)).getTime() <= Date.now()),
      );
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return this;
  }

  has(name: string): boolean {
    return this.cookies.has(name);
  }

  names(): string[] {
    return [...this.cookies.keys()];
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  clone(): CookieJar {
    const copy = new CookieJar();
    for (const [k, v] of this.cookies) copy.cookies.set(k, v);
    return copy;
  }
}

export function get(url: string, jar?: CookieJar, headers: Record<string, string> = {}): Request {
  return new Request(url, { headers: { ...headers, ...(jar ? { Cookie: jar.header() } : {}) } });
}

export function post(url: string, form: Record<string, string>, jar?: CookieJar): Request {
  return new Request(url, {
    method: "POST",
    body: new URLSearchParams(form),
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      ...(jar ? { Cookie: jar.header() } : {}),
    },
  });
}

export function callLoader(
  loader: Loader,
  request: Request,
  params: Record<string, string> = {},
): Promise<Response> {
  return settle(() => loader({ request, params, context: {} }));
}

export function callAction(
  action: Action,
  request: Request,
  params: Record<string, string> = {},
): Promise<Response> {
  return settle(() => action({ request, params, context: {} }));
}
