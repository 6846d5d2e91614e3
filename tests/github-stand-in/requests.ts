import type { IncomingMessage, ServerResponse } from "node:http";
import type { Core } from "./core";
import {
  type StandInOptions,
  type RequestRecord,
  type Fault,
  type Ctx,
  type Route,
  DOCS,
  compilePattern,
  redact,
  HttpFailure,
} from "./model";
// Request handling for the GitHub stand-in: each request is logged, checked against the test's
// expectations (allowed routes, injected faults), routed and answered; failures become GitHub's
// error bodies.
export function requestHandling(core: Core, options: StandInOptions) {
  const {
    installationTokens,
    oauthTokens,
    log,
    faults,
    extraRoutes,
    classify,
    send,
    apiHeaders,
    sendFailure,
    routes,
    API,
  } = core;

  // ---- expectations ----

  function patternTest(pattern: string | RegExp): (path: string, isApi: boolean) => boolean {
    if (pattern instanceof RegExp) return (path) => pattern.test(path);
    const { regex } = compilePattern(pattern);
    if (pattern.startsWith(API)) return (path) => regex.test(path);
    return (path, isApi) => regex.test(isApi ? path.slice(API.length) || "/" : path);
  }

  function methodMatches(expected: string | undefined, actual: string): boolean {
    return !expected || expected === "*" || expected.toUpperCase() === actual;
  }

  function isAllowed(method: string, path: string, isApi: boolean): boolean {
    if (extraRoutes.some((r) => methodMatches(r.method, method) && r.test(path, isApi)))
      return true;
    if (core.allowedOnly === null) return true;
    return core.allowedOnly.some((r) => methodMatches(r.method, method) && r.test(path, isApi));
  }

  function takeFault(method: string, path: string): Fault | undefined {
    const f = faults.find(
      (x) => x.remaining > 0 && methodMatches(x.method, method) && x.test(path),
    );
    if (f) f.remaining -= 1;
    return f;
  }

  function sendFault(ctx: Ctx, f: Fault): void {
    const retryAt = Math.floor(Date.now() / 1000) + f.retryAfter;
    const headers: Record<string, string> = { ...apiHeaders() };
    let message: string;
    if (f.rateLimit) {
      Object.assign(headers, {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "5000",
        "x-ratelimit-reset": String(retryAt),
        "x-ratelimit-resource": "core",
        "retry-after": String(f.retryAfter),
      });
      message = f.secondary
        ? "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID."
        : `API rate limit exceeded for installation ID ${ctx.record.installationId ?? 0}.`;
    } else {
      message =
        f.status === 403
          ? "Resource not accessible by integration"
          : f.status === 503
            ? "Service Unavailable"
            : "Server Error";
    }
    const docs = f.rateLimit
      ? "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
      : "https://docs.github.com/rest";
    send(ctx, f.status, { message, documentation_url: docs, status: String(f.status) }, headers);
  }

  // ---- request handling ----

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 50 * 1024 * 1024) throw new HttpFailure(413, "Payload too large");
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  function parseBody(req: IncomingMessage, raw: Buffer): unknown {
    if (raw.length === 0) return undefined;
    const type = req.headers["content-type"] ?? "";
    const text = raw.toString("utf8");
    if (/x-www-form-urlencoded/.test(type)) return Object.fromEntries(new URLSearchParams(text));
    if (/json/.test(type) || /^\s*[[{]/.test(text)) {
      try {
        return JSON.parse(text);
      } catch {
        throw new HttpFailure(400, "Problems parsing JSON");
      }
    }
    return text;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", core.urls.web);
    const path = url.pathname;
    const isApi = path === API || path.startsWith(`${API}/`);
    const record: RequestRecord = {
      seq: ++core.seq,
      at: new Date().toISOString(),
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      auth: classify(req).kind,
      unexpected: false,
    };
    log.push(record);
    // Who is asking, for the log (validity is checked by the route).
    const presented = classify(req).credential;
    if (presented) {
      const it = installationTokens.get(presented);
      const ot = oauthTokens.get(presented);
      if (it) record.installationId = it.installationId;
      else if (ot) record.user = ot.login;
    }
    res.on("finish", () => {
      record.status = res.statusCode;
      if (options.verbose) {
        console.error(
          `[github-stand-in] ${method} ${path}${url.search} → ${res.statusCode}${record.unexpected ? " (unexpected)" : ""}`,
        );
      }
    });

    let matched: { route: Route; params: Record<string, string> } | undefined;
    for (const r of routes) {
      if (r.method !== method) continue;
      const m = r.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = m[i + 1] ?? ""));
      for (const k of Object.keys(params)) {
        if (k === "path" || k === "ref" || k === "commit_sha") continue;
        try {
          params[k] = decodeURIComponent(params[k]!);
        } catch {
          /* leave as is */
        }
      }
      matched = { route: r, params };
      break;
    }
    const fallbackRoute: Route = {
      method,
      pattern: "",
      regex: /^$/,
      keys: [],
      docs: DOCS,
      handle: () => undefined,
    };
    const ctx: Ctx = {
      req,
      res,
      url,
      params: matched?.params ?? {},
      body: undefined,
      record,
      route: matched?.route ?? fallbackRoute,
    };
    if (matched) record.route = `${method} ${matched.route.pattern}`;

    try {
      const fault = takeFault(method, path);
      if (fault) {
        record.fault = fault.status;
        req.resume();
        sendFault(ctx, fault);
        return;
      }
      if (!matched?.route.stream) {
        const raw = await readBody(req);
        const parsed = parseBody(req, raw);
        record.body = redact(parsed);
        ctx.body = parsed;
      }
      if (!matched) {
        const extra = extraRoutes.find(
          (r) => methodMatches(r.method, method) && r.test(path, isApi),
        );
        if (extra?.respond) {
          record.route = `${method} (allowed by test)`;
          const body = extra.respond.body;
          send(ctx, extra.respond.status ?? 200, body, {
            ...(isApi ? apiHeaders() : {}),
            ...(extra.respond.headers ?? {}),
          });
          return;
        }
        if (!extra) {
          record.unexpected = true;
          record.note = "no such route in the GitHub stand-in";
        }
        throw new HttpFailure(404, "Not Found");
      }
      if (!isAllowed(method, path, isApi)) {
        record.unexpected = true;
        record.note = "route not allowed by this test";
      }
      await matched.route.handle(ctx);
    } catch (err) {
      if (err instanceof HttpFailure) {
        sendFailure(ctx, err);
        return;
      }
      record.unexpected = true;
      record.note = `stand-in error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
      if (!res.headersSent) sendFailure(ctx, new HttpFailure(500, "Server Error"));
      else res.destroy();
    }
  }

  return { patternTest, methodMatches, handle };
}
