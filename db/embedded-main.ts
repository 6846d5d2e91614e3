// Runs the embedded PostgreSQL in its own process. Prints one JSON line {"url": …} once it accepts
// connections; stops the server on SIGTERM/SIGINT or when its parent goes away (stdin closes).
import { startEmbeddedPostgres } from "./embedded";

const [dataDir, portArg, persistentArg] = process.argv.slice(2);
if (!dataDir) {
  console.error("usage: embedded-main.ts <data-dir> [port] [persistent: true|false]");
  process.exit(2);
}

let stopping: Promise<void> | null = null;
try {
  const pg = await startEmbeddedPostgres({
    dataDir,
    port: portArg ? Number(portArg) : undefined,
    persistent: persistentArg !== "false",
    onLog: (line) => process.env.BISECT_PG_VERBOSE && console.error(line),
  });
  const stop = () => {
    stopping ??= pg.stop().then(
      () => process.exit(0),
      (error) => {
        console.error(`embedded PostgreSQL: stop failed: ${error}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
  process.stdout.write(JSON.stringify({ url: pg.url }) + "\n");
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
