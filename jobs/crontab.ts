// Recurring work. `?max=1` stops backfilling missed runs; the job key keeps one pending at a time.
export const crontab = [
  "* * * * * workers__unlock_dead ?max=1&jobKey=cron:workers__unlock_dead",
  "* * * * * runners__check ?max=1&jobKey=cron:runners__check",
  "* * * * * runners__reap ?max=1&jobKey=cron:runners__reap",
  // Jobs that stopped making progress: resumed, or concluded with the reason.
  "* * * * * bisect__watchdog ?max=1&jobKey=cron:bisect__watchdog",
  // The 1st at 00:05 UTC: every usable installation gets its zero usage row for the new month.
  "5 0 1 * * usage__rollover ?fill=2d&max=3&jobKey=cron:usage__rollover",
  // Nightly: step logs, webhook payloads and audit entries past their RETENTION_* settings; admin
  // runs and ended leases older than 90 days.
  "17 3 * * * admin__prune ?max=3&jobKey=cron:admin__prune",
  // Hourly: images pulled for jobs and unused for RUNNER_IMAGE_EVICT_DAYS leave the runner hosts.
  "41 * * * * images__evict ?max=1&jobKey=cron:images__evict",
].join("\n");
