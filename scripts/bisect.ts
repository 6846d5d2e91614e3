// npm run bisect -- --repo <path|git-url> --good <rev> --bad <rev> [options] -- <command...>
// See runner/cli/args.ts for the options. Ctrl-C (or SIGTERM) stops the runs in flight, removes
// their containers, and exits 130; a second Ctrl-C while cleaning up is ignored, a third exits at once.
// With --farm the job is queued on the runner farm (jobs/farm/cli-farm.ts) and followed from here.
// `npm run bisect` runs this under `node --import tsx`, not the tsx command: tsx relays a signal
// to its child and SIGKILLs it (exit 130, no JSON) when the child has not answered in 30 ms.
import { existsSync, readFileSync } from "node:fs";
import { parseCliArgs, USAGE } from "../runner/cli/args";
import { EXIT, runCli } from "../runner/cli/main";

const controller = new AbortController();
let interrupts = 0;
const onSignal = (name: NodeJS.Signals) => {
  interrupts++;
  if (interrupts === 1) {
    process.stderr.write(`\n${name}: stopping the runs in flight and removing their containers…\n`);
    controller.abort();
  } else if (interrupts === 2) {
    process.stderr.write(
      "still cleaning up; press Ctrl-C again to exit now (containers may be left behind)\n",
    );
  } else {
    process.exit(130);
  }
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

/** The product's database: DATABASE_URL, or the embedded one a running `npm start` wrote down. */
function farmDatabaseUrl(): string | null {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const file = `${process.env.DATA_DIR || ".data"}/database-url`;
  return existsSync(file) ? readFileSync(file, "utf8").trim() : null;
}

async function runFarm(argv: string[]): Promise<number> {
  const parsed = parseCliArgs(argv);
  if (parsed.kind !== "options") return runCli(argv, io);
  const url = farmDatabaseUrl();
  if (!url) {
    process.stderr.write(
      `bisect: --farm needs the product's database: set DATABASE_URL, or run npm start first\n${USAGE}\n`,
    );
    return EXIT.usage;
  }
  const { createKnex } = await import("../db/connection");
  const { runOnFarm } = await import("../jobs/farm/cli-farm");
  const knex = createKnex(url, { poolMax: 2, applicationName: "bisect-cli" });
  try {
    const { json } = await runOnFarm(knex, parsed.options, {
      stderr: io.stderr,
      signal: controller.signal,
    });
    if (parsed.options.json) io.stdout(`${JSON.stringify(json)}\n`);
    if (json.aborted) return EXIT.interrupted;
    return json.outcome === "found" ? EXIT.found : EXIT.notFound;
  } finally {
    await knex.destroy();
  }
}

const io = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
  env: process.env,
  signal: controller.signal,
};
const argv = process.argv.slice(2);
const wantsFarm = argv
  .slice(0, argv.includes("--") ? argv.indexOf("--") : argv.length)
  .includes("--farm");
const code = wantsFarm
  ? await runFarm(argv).catch((error: Error) => {
      process.stderr.write(`bisect: ${error.message}\n`);
      return EXIT.notFound;
    })
  : await runCli(argv, io);
// Flush stdout (it may be a pipe), then exit even if an idle keep-alive socket lingers.
process.stdout.write("", () => process.exit(code));
