// The /docs reference of the `/bisect` command and of its answers. Its numbers come from the
// parser's limits and the predicate's constants, and a test checks it against the verdict rules,
// so the page says what the code does.
import { LIMITS } from "../../jobs/github/limits";
import {
  defaultPredicate,
  describePredicate,
  FLAKY_CONFIRM_RUNS,
  FLAKY_RUNS,
  FLAKY_THRESHOLD,
  MAX_PATTERN_LENGTH,
} from "../../runner/engine/predicate";
import { FOUND_CONFIDENCE } from "../../runner/engine/types";

const percent = `${Math.round(FOUND_CONFIDENCE * 100)}%`;

export function CommandReference() {
  return (
    <>
      <pre>
        <code>{`/bisect <good> <bad> [options] [--] <command…>
/bisect <good> <bad> [options]   (command in a fenced code block below, or from .github/bisect.yml)
/bisect verify [N]   /bisect cancel [N]   /bisect retry [N]   /bisect status   /bisect help`}</code>
      </pre>
      <dl>
        <dt>
          <code>good</code>, <code>bad</code>
        </dt>
        <dd>Revisions (tags, branches, SHAs) where the command passes and where it fails.</dd>
        <dt>command</dt>
        <dd>
          Runs with <code>sh -c</code> in a checkout of each commit (at most{" "}
          {LIMITS.commandLength.toLocaleString("en")} characters). Each run sees{" "}
          <code>BISECT_RUN</code>: which run of this commit it is (1, 2, …), to seed a test&rsquo;s
          randomness.
        </dd>
        <dt>
          <code>--runs N</code>, <code>--fail-threshold M</code>
        </dt>
        <dd>
          Runs per commit ({LIMITS.runs.min}–{LIMITS.runs.max}); a commit counts as bad when M or
          more of its runs fail ({LIMITS.failThreshold.min}–N, default 1).
        </dd>
        <dt>
          <code>--flaky</code>
        </dt>
        <dd>
          The preset for flaky tests: {FLAKY_RUNS} runs per commit, bad when {FLAKY_THRESHOLD} or
          more fail, and up to {FLAKY_CONFIRM_RUNS} runs of a commit the answer rests on (an
          endpoint, the commit found, its parent) when its runs disagree. Not together with{" "}
          <code>--runs</code> or <code>--fail-threshold</code>.
        </dd>
        <dt>
          <code>--crash bad|skip</code>
        </dt>
        <dd>
          Whether a crash (exit code 128 or more, or death by a signal such as a segmentation fault)
          counts as bad. Default: skip.
        </dd>
        <dt>
          <code>--timeout-is bad|skip</code>
        </dt>
        <dd>Whether a run that hits the time limit counts as bad (a hang). Default: skip.</dd>
        <dt>
          <code>--bad-if-output REGEX</code>
        </dt>
        <dd>
          The output decides instead of the exit code: a run with a line that matches the regular
          expression (JavaScript syntax, at most {MAX_PATTERN_LENGTH} characters, no back-references
          or nested repetition) is bad, one without is good. Put it in backticks or double quotes
          when it holds spaces: <code>--bad-if-output `panicked at|Segfault`</code>.
        </dd>
        <dt>
          <code>--find fix|regression</code>
        </dt>
        <dd>
          <code>fix</code> looks for the first fixed commit: the test fails on the first revision
          and passes on the second, and every answer says fixed / not yet fixed.
        </dd>
        <dt>
          <code>--parallel K</code>
        </dt>
        <dd>
          Commits tested at once ({LIMITS.parallel.min}–{LIMITS.parallel.max}, within your
          plan&rsquo;s limit). The two revisions are checked alongside the first probes.
        </dd>
        <dt>
          <code>--timeout</code>
        </dt>
        <dd>
          Wall-clock limit of one run, from 1s to 24h (<code>90s</code>, <code>10m</code>,{" "}
          <code>1h30m</code>), within your plan&rsquo;s limit.
        </dd>
        <dt>
          <code>--first-parent</code>
        </dt>
        <dd>Follow only the first parent of merge commits.</dd>
      </dl>
      <p>
        The same choices can be defaults in <code>.github/bisect.yml</code> (<code>runs</code>,{" "}
        <code>fail-threshold</code>, <code>flaky</code>, <code>crash</code>, <code>timeout-is</code>
        , <code>bad-if-output</code>, <code>find</code>); the comment&rsquo;s options override the
        file.
      </p>
      <h3 id="bisect-yml">
        <code>.github/bisect.yml</code>: setup, image and environment
      </h3>
      <pre>{`image: node:20-bookworm        # on the default branch only
setup: |                       # before the test on every commit; stops at its first failing line
  npm ci
  export PATH="$PWD/node_modules/.bin:$PATH"   # exports reach the test
command: npm test
env:                           # not secrets: shown in the status comment
  NODE_OPTIONS: --max-old-space-size=2048
  TZ: UTC`}</pre>
      <p>
        <code>env</code> names are upper case (<code>[A-Z_][A-Z0-9_]*</code>), at most 50 of them,
        each value one line of at most 4096 characters. <code>PATH</code>, <code>HOME</code> and the
        shell&rsquo;s own variables are reserved, and so are names starting with{" "}
        <code>BISECT_</code>: to add to <code>PATH</code>, export it in the setup. Never put a
        secret in <code>env</code>. Extra cache paths (<code>cache:</code>) are not available yet.
      </p>
      <p>
        <strong>Zero configuration.</strong> When the file names neither an image nor a setup, the
        bot looks at the files at the bad revision&rsquo;s root and picks both: a{" "}
        <code>package-lock.json</code>, <code>yarn.lock</code> or <code>pnpm-lock.yaml</code> →{" "}
        <code>node:20-bookworm</code> with <code>npm ci</code>,{" "}
        <code>yarn install --frozen-lockfile</code> or <code>pnpm install --frozen-lockfile</code>;{" "}
        <code>pyproject.toml</code> or <code>requirements*.txt</code> →{" "}
        <code>python:3.12-bookworm</code> with a virtualenv and <code>pip install</code>;{" "}
        <code>Cargo.lock</code> or <code>Cargo.toml</code> → <code>rust:1-bookworm</code> with{" "}
        <code>cargo build --locked</code> or <code>cargo build</code>; <code>go.mod</code> →{" "}
        <code>golang:1-bookworm</code> with <code>go mod download</code> and the tests compiled into
        the build cache (<code>go test -exec true</code>; the offline test starts from a copy);{" "}
        <code>CMakeLists.txt</code> → a CMake build in the runner image; a <code>Makefile</code> →{" "}
        <code>make</code>. Rust&rsquo;s <code>target</code> and CMake&rsquo;s <code>build</code> are
        kept between steps (as <code>cache:</code> would), so a step rebuilds what its commit
        changed. The status comment says what was chosen; set <code>image:</code> and{" "}
        <code>setup:</code> to choose otherwise. An image this runner&rsquo;s operator does not
        allow is replaced by the runner image, without a setup, and the comment says so. The
        operator may change this table, and give an ecosystem variables of its own (such as{" "}
        <code>GOPROXY</code> for a company module proxy); your <code>env</code> wins over them.
      </p>
      <p>Rust with vendored dependencies, and Go with modules from a module proxy:</p>
      <pre>{`# Rust: vendor/ and .cargo/config.toml from \`cargo vendor\`; no network at all
image: rust:1-bookworm
setup: cargo build --offline --locked
command: cargo test --offline --locked

# Go: the setup downloads the modules and compiles the tests, the test runs offline
image: golang:1-bookworm
network: setup
setup: |
  go mod download
  go test -exec true ./... >/dev/null 2>&1 || true
command: go test ./...
env:
  GOPROXY: https://goproxy.acme.example   # leave out for proxy.golang.org`}</pre>
      <h3 id="verdicts">What a run means</h3>
      <p>The rules, in order (the first that applies decides):</p>
      <ol>
        <li>
          An infrastructure failure (a lost host, a cancelled run) is retried and never counts as
          bad or good.
        </li>
        <li>A run killed for using too much memory is untestable (skip).</li>
        <li>
          A run that hits the time limit is skipped, or bad with <code>--timeout-is bad</code>.
        </li>
        <li>Exit 125 means the commit cannot be tested (skip), as in git bisect.</li>
        <li>
          A failing run that printed &ldquo;No space left on device&rdquo; is untestable (skip).
        </li>
        <li>
          With <code>--bad-if-output</code>, a run whose output matches is bad.
        </li>
        <li>
          A crash (exit 128 or more, or a signal) is skipped, or bad with <code>--crash bad</code>.
        </li>
        <li>
          Otherwise exit 0 is good and exit 1–127 is bad; with <code>--bad-if-output</code>, an
          output that does not match is good whatever the exit code.
        </li>
      </ol>
      <p>
        With <code>--find fix</code>, a passing run means fixed and a failing one means not yet
        fixed. Each answer states its rules in words; with the defaults:
      </p>
      <ul>
        {describePredicate(defaultPredicate).map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
    </>
  );
}

export function ResultReference() {
  return (
    <dl>
      <dt>found</dt>
      <dd>
        One first bad (or first fixed) commit, with a confidence of at least {percent}: the share of
        its runs that fail times the share of its parent&rsquo;s runs that pass.
      </dd>
      <dt>likely</dt>
      <dd>
        One commit explains the runs, but the confidence is below {percent}. The answer shows the
        runs it rests on and the command that makes it sure (<code>/bisect verify</code>, or the
        same bisection with <code>--flaky</code>). It is never called found.
      </dd>
      <dt>ambiguous</dt>
      <dd>Several candidates remain because commits in between were skipped.</dd>
      <dt>good-is-bad / bad-is-good</dt>
      <dd>
        The &ldquo;good&rdquo; revision already fails, or the &ldquo;bad&rdquo; one passes: check
        the revisions and the command. Exit code 127 means the command was not found in the image
        (choose the image with <code>image:</code> in <code>.github/bisect.yml</code>); 126 means it
        is not executable.
      </dd>
      <dt>flaky</dt>
      <dd>
        Runs on the same commit disagreed too much to point at one commit; try <code>--flaky</code>{" "}
        or make the test deterministic.
      </dd>
      <dt>error / timeout</dt>
      <dd>
        The runs could not complete; the step logs say why. A bisection always ends with an answer:
        if the repository cannot be fetched, or the runners stay unreachable, it stops as failed and
        the comment says why (e.g. &ldquo;the repository could not be fetched: &hellip;&rdquo;).
        Comment <code>/bisect retry</code> once that is fixed.
      </dd>
      <dt>
        <code>/bisect verify [N]</code>
      </dt>
      <dd>
        The answer to &ldquo;I think this result is wrong&rdquo;: on a finished bisection that named
        a commit, re-runs that commit and its parent max(5, its runs) times each and edits the
        bisection&rsquo;s comment with both failure rates and the confidence.
      </dd>
    </dl>
  );
}
