// The engine's public surface: one import for the jobs that drive a bisection.
export { decide, checkInput, EngineInputError } from "./engine";
export { classifyRun, signalName, type ClassifyOptions, type Classification } from "./verdict";
export * from "./types";
