// The /docs page's `.github/bisect.yml` example: one line per key, each with what it does. Kept
// here (not in the route) so that a test parses it with the bot's own parser.
export const BISECT_YML_EXAMPLE = `image: node:20-bookworm     # default branch only: the image runs use
network: setup              # default branch only: none | setup (setup online, test offline) | all
setup: npm ci               # before the test, on every commit; a failure skips the commit
command: npm test           # the test when the comment gives none (0 good, 125 skip, else bad)
timeout: 10m                # one run's limit: seconds, or 90s / 10m / 1h (at most 24h)
runs: 2                     # runs per commit, 1–5 (flaky tests)
env: { NODE_ENV: test }     # variables for the setup and the test (not secrets: shown in the comment)
cache: [build]              # paths kept between steps on a runner host (false: no cache at all)
pathspec: [src, package.json]  # only commits touching these paths are tested`;

/** The example, then what the cache does. */
export function BisectYmlExample() {
  return (
    <>
      <pre>
        <code>{BISECT_YML_EXAMPLE}</code>
      </pre>
      <p>
        Each repository has a dependency cache on every runner host, never shared with another
        repository: npm, yarn, pnpm, pip, cargo, Go and ccache find it by themselves. It is writable
        in the setup and read-only in the test. The paths of <code>cache</code> are restored from it
        before the setup (never over a path the commit has), dated so that a build tool rebuilds
        what differs between your commit and the one they were built at (in an image without git,
        whatever your commit&rsquo;s files feed) and saved after a setup that succeeded, never after
        the test. Within one job on one runner host they simply stay in place from one step to the
        next after a setup that succeeded, as on your own machine; after a setup that failed, the
        next step starts from the cache&rsquo;s copy. <code>cache: false</code> turns it off. A
        cache the runner host needed room for is simply cold on the next step.
      </p>
    </>
  );
}
