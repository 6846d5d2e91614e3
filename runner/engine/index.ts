// The engine's public surface: one import for the jobs that drive a bisection.
export { decide, checkInput, EngineInputError } from "./engine";
export {
  classifyRun,
  outputMatches,
  signalName,
  type ClassifyOptions,
  type Classification,
} from "./verdict";
export {
  defaultPredicate,
  describePredicate,
  normalizePredicate,
  patternProblem,
  policyOfPredicate,
  termsOf,
  PredicateError,
  FLAKY_CONFIRM_RUNS,
  FLAKY_RUNS,
  FLAKY_THRESHOLD,
  MAX_PATTERN_LENGTH,
  type Predicate,
  type Terms,
} from "./predicate";
export * from "./types";
