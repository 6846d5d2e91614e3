import type { LinksFunction } from "@remix-run/node";
import {
  isRouteErrorResponse,
  Link,
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  useRouteError,
} from "@remix-run/react";
import type { ReactNode } from "react";
import { useNonce } from "./nonce";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: "/styles.css" },
  { rel: "icon", href: "/favicon.svg", type: "image/svg+xml" },
];

export function Layout({ children }: { children: ReactNode }) {
  const nonce = useNonce();
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light" />
        <Meta />
        <Links />
      </head>
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="site-header">
          <Link to="/" className="brand">
            Bisect Bot
          </Link>
          <nav aria-label="Site" className="site-nav">
            <Link to="/docs">Docs</Link>
            <Link to="/dashboard">Dashboard</Link>
          </nav>
        </header>
        <main id="main" tabIndex={-1}>
          {children}
        </main>
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

const HINTS: Record<number, string> = {
  401: "Sign in with GitHub to see this page.",
  403: "This request was refused.",
  404: "There is nothing here.",
  503: "Bisect Bot is not fully configured yet.",
};

/** The one error boundary: expected failures arrive as Responses, the rest as errors. */
export function ErrorBoundary() {
  const error = useRouteError();
  const response = isRouteErrorResponse(error) ? error : null;
  const title = response
    ? `${response.status} ${response.statusText || "Error"}`
    : "Something went wrong";
  const detail = response
    ? typeof response.data === "string" && response.data.length > 0
      ? response.data
      : (HINTS[response.status] ?? "The page could not be shown.")
    : "An unexpected error happened. It has been logged; please try again.";
  return (
    <section className="card error" role="alert" aria-labelledby="error-title">
      <h1 id="error-title">{title}</h1>
      <p>{detail}</p>
      <p className="actions">
        <Link to="/">Start page</Link>
        {response?.status === 404 || response?.status === 403 ? (
          <Link to="/dashboard">Dashboard</Link>
        ) : null}
      </p>
    </section>
  );
}
