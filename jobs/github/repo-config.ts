// The validator lives in runner/settings: the GitHub path and the CLI read `bisect.yml` alike.
export * from "../../runner/settings/repo-config";
