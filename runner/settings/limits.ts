// The `/bisect` parser's vocabulary and bounds: pure data, shared with the /docs page (which is
// bundled for the browser and so cannot import the parser itself).
export const LIMITS = {
  runs: { min: 1, max: 5 },
  failThreshold: { min: 1, max: 5 },
  parallel: { min: 1, max: 16 },
  timeoutSeconds: { min: 1, max: 24 * 3600 },
  commandLength: 10_000,
} as const;

/** Every option of `/bisect <good> <bad> …`. */
export const OPTION_NAMES = [
  "--runs",
  "--fail-threshold",
  "--flaky",
  "--crash",
  "--timeout-is",
  "--bad-if-output",
  "--find",
  "--timeout",
  "--parallel",
  "--first-parent",
];
