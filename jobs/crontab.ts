// Recurring work. `?max=1` stops backfilling missed runs; the job key keeps one pending at a time.
export const crontab = [
  "* * * * * workers__unlock_dead ?max=1&jobKey=cron:workers__unlock_dead",
  "* * * * * runners__check ?max=1&jobKey=cron:runners__check",
  "* * * * * runners__reap ?max=1&jobKey=cron:runners__reap",
].join("\n");
