// The job page's live updates, read from the job's event stream.
import { useRevalidator } from "@remix-run/react";
import { useEffect, useState } from "react";

/** Live updates: the server pushes an event whenever the job or a step changes; the page then reloads its data. */
export function useLiveUpdates(jobId: number, active: boolean, version: string): boolean {
  const { revalidate } = useRevalidator();
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!active || typeof EventSource === "undefined") return;
    const source = new EventSource(
      `/dashboard/jobs/${jobId}/events?since=${encodeURIComponent(version)}`,
    );
    source.addEventListener("open", () => setLive(true));
    source.addEventListener("update", () => revalidate());
    source.addEventListener("end", () => {
      source.close();
      setLive(false);
      revalidate();
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) setLive(false);
    });
    return () => {
      source.close();
      setLive(false);
    };
    // Opened once per job while it is active; `version` only seeds the stream, so it is no dependency.
  }, [jobId, active]);
  return live;
}
