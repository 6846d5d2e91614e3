// Recurring work. `?max=1` stops backfilling missed runs; the job key keeps one pending at a time.
export const crontab = [
  "* * * * * workers__unlock_dead ?max=1&jobKey=cron:workers__unlock_dead",
].join("\n");
