// Moved to runner/config (the CLI validates `bisect.yml` with the same bounds).
export * from "../../runner/config/limits";
