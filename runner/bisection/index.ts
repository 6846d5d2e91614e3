// Driving the engine with an executor in one process (the CLI, benchmarks); `uselessInFlight` is
// shared with any other driver.
export {
  runBisection,
  type BisectionEvent,
  type BisectionOutcome,
  type BisectionResult,
  type BisectionStep,
  type EngineFunctions,
  type RunBisectionOptions,
} from "./run-bisection";
export { uselessInFlight } from "./useless";
