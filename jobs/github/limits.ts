// Moved to runner/settings (the CLI validates `bisect.yml` with the same bounds).
export * from "../../runner/settings/limits";
