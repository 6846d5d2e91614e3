// The validator lives in runner/config: the GitHub path and the CLI read `bisect.yml` alike.
export * from "../../runner/config/repo-config";
