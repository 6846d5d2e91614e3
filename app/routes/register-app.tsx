// GET /register-app?code=…&state=…: where GitHub returns after creating the app from the start
// page's manifest. Shows the new app's credentials once and writes them for `npm start`.
import { redirect, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import {
  convertManifestCode,
  envFileFor,
  isLoopback,
  stateValid,
  writeAppEnv,
} from "../app-manifest.server";
import { getConfig } from "../config.server";
import { clientIp } from "../load-context";

export const meta: MetaFunction = () => [{ title: "GitHub App registered — Bisect Bot" }];
export const headers = () => ({ "Cache-Control": "no-store" });

const plain = (status: number, message: string) =>
  new Response(message, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" },
  });

export async function loader({ request, context }: LoaderFunctionArgs) {
  const config = getConfig();
  if (config.github) throw redirect("/");
  if (!isLoopback(clientIp(context)))
    throw plain(403, "Register the GitHub App from a browser on the machine Bisect Bot runs on.");
  if (!config.SESSION_SECRET) throw plain(503, "Set SESSION_SECRET first (see .env.example).");
  const url = new URL(request.url);
  if (!stateValid(config.SESSION_SECRET, url.searchParams.get("state")))
    throw plain(
      400,
      "This registration link has expired or was not started here. Start again from the start page.",
    );
  let app;
  try {
    app = await convertManifestCode(config.GITHUB_API_URL, url.searchParams.get("code") ?? "");
  } catch (error) {
    throw plain(
      502,
      error instanceof Error ? error.message : "GitHub did not answer; start again.",
    );
  }
  const file = writeAppEnv(config, app);
  return {
    file,
    env: envFileFor(app),
    slug: app.slug,
    installUrl: `${app.htmlUrl}/installations/new`,
    secrets: [
      ["secrets/github-app.pem", app.pem.trim()],
      ["secrets/github_webhook_secret", app.webhookSecret],
      ["secrets/github_client_secret", app.clientSecret],
    ] as [string, string][],
    ids: {
      GITHUB_APP_ID: String(app.id),
      GITHUB_APP_SLUG: app.slug,
      GITHUB_CLIENT_ID: app.clientId,
    },
  };
}

export default function RegisteredApp() {
  const { file, env, slug, installUrl, secrets, ids } = useLoaderData<typeof loader>();
  return (
    <section className="card" aria-labelledby="registered-title">
      <h1 id="registered-title">GitHub App {slug} registered</h1>
      <p role="status" className="notice">
        These credentials are shown <strong>once</strong>. They are saved in <code>{file}</code>{" "}
        (readable by this user only), which <code>npm start</code> reads: stop it (Ctrl-C) and start
        it again to leave setup mode, then <a href={installUrl}>install the app</a>.
      </p>
      <h2>For npm start</h2>
      <pre>
        <code>{env}</code>
      </pre>
      <h2>For a production deployment (docs/deploy.md)</h2>
      <p>
        Environment:{" "}
        {Object.entries(ids)
          .map(([k, v]) => `${k}=${v}`)
          .join("  ")}
      </p>
      {secrets.map(([name, value]) => (
        <div key={name}>
          <p>
            <code>{name}</code>
          </p>
          <pre>
            <code>{value}</code>
          </pre>
        </div>
      ))}
    </section>
  );
}
