import type { MetaFunction } from "@remix-run/node";
import { Link } from "@remix-run/react";
import { BisectYmlExample } from "../components/bisect-yml-docs";
import { CommandReference, ResultReference } from "../components/command-docs";
import { BotAnswer, ExampleComment } from "../components/example";

export const meta: MetaFunction = () => [{ title: "Documentation — Bisect Bot" }];

export default function Docs() {
  return (
    <article className="prose">
      <h1>Documentation</h1>
      <nav aria-label="On this page">
        <ul className="inline-list">
          <li>
            <a href="#command">The command</a>
          </li>
          <li>
            <a href="#results">Results</a>
          </li>
          <li>
            <a href="#bisect-yml">.github/bisect.yml</a>
          </li>
          <li>
            <a href="#dashboard">Dashboard</a>
          </li>
          <li>
            <a href="#safety">Isolation</a>
          </li>
          <li>
            <a href="#self-hosting">Self-hosting</a>
          </li>
        </ul>
      </nav>

      <section id="command" aria-labelledby="command-title">
        <h2 id="command-title">The /bisect command</h2>
        <CommandReference />
        <p>
          Only people with write access to the repository can start, verify, cancel or retry a
          bisection.
        </p>
        <ExampleComment />
      </section>

      <section id="bisect-yml" aria-labelledby="bisect-yml-title">
        <h2 id="bisect-yml-title">
          <code>.github/bisect.yml</code>
        </h2>
        <p>
          A repository&rsquo;s defaults, so a comment can be as short as{" "}
          <code>/bisect v1.4.0 main</code>. Every key is optional; the comment&rsquo;s own command,{" "}
          <code>--runs</code> and <code>--timeout</code> win over the file. An invalid file is
          answered with each problem, and nothing starts.
        </p>
        <BisectYmlExample />
        <p>
          <code>image</code> and <code>network</code> are read on the default branch only (the bad
          revision can be any commit, a fork&rsquo;s included); the other keys at the bad revision.
          Runs have no network unless the repository asks. With <code>network: setup</code> the
          setup runs first and may download through the runner&rsquo;s egress filter, then the test
          runs offline on the same files; <code>network: all</code> gives the test network too, only
          where the operator allows it for the plan. Without a bisect.yml, a project whose setup
          installs dependencies (npm, yarn, pnpm, pip, cargo, Go modules) gets <code>setup</code>.
          Worked examples for Node.js, Python, Rust, Go and C are in <code>docs/bisect-yml.md</code>
          .
        </p>
      </section>

      <section id="results" aria-labelledby="results-title">
        <h2 id="results-title">Reading the answer</h2>
        <BotAnswer />
        <ResultReference />
      </section>

      <section id="dashboard" aria-labelledby="dashboard-title">
        <h2 id="dashboard-title">The dashboard</h2>
        <p>
          <Link to="/dashboard">Sign in with GitHub</Link> to see the installations you have access
          to, their repositories, every job with its steps and logs, live progress, and this
          month&rsquo;s usage against your plan. You can cancel a running job or run a job again.
        </p>
      </section>

      <section id="safety" aria-labelledby="safety-title">
        <h2 id="safety-title">How commands are isolated</h2>
        <ul>
          <li>
            Each run starts a fresh container: non-root, all capabilities dropped, read-only root
            with a writable work directory on disk (the checkout, <code>HOME</code> and{" "}
            <code>/tmp</code>). A run that fills it is stopped and its commit skipped (&ldquo;disk
            full&rdquo;), never counted as bad.
          </li>
          <li>
            Any image the operator allows works, with or without git: the commit&rsquo;s files are
            checked out by the bot, not by your image, and a missing image is pulled once per
            runner.
          </li>
          <li>
            Memory, CPU, process and time limits. The test has no network unless the repository asks
            for it on its default branch and the operator allows it for the plan; a setup that asks
            for network runs in a sandbox of its own, and the test&rsquo;s sandbox never has one.
          </li>
          <li>GitHub tokens never enter a container that runs your command, nor any log.</li>
        </ul>
      </section>

      <section id="self-hosting" aria-labelledby="self-hosting-title">
        <h2 id="self-hosting-title">Running your own</h2>
        <p>
          <code>npm ci &amp;&amp; npm start</code> runs the web server and the worker (with an
          embedded PostgreSQL when <code>DATABASE_URL</code> is unset). Every setting is an
          environment variable documented in <code>.env.example</code>; without GitHub credentials
          the start page lists what is missing. <code>GET /health</code> reports the database, the
          worker and whether a runner host answers (<code>docker_available</code>), and answers 503
          when a bisection cannot run.
        </p>
      </section>
    </article>
  );
}
