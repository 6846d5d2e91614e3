// npm run bisect -- --repo <path|git-url> --good <rev> --bad <rev> [options] -- <command...>
// See runner/cli/args.ts for the options. Ctrl-C (or SIGTERM) stops the runs in flight, removes
// their containers, and exits 130; a second Ctrl-C while cleaning up is ignored, a third exits at once.
import { runCli } from "../runner/cli/main.js";

const controller = new AbortController();
let interrupts = 0;
const onSignal = (name: NodeJS.Signals) => {
  interrupts++;
  if (interrupts === 1) {
    process.stderr.write(`\n${name}: stopping the runs in flight and removing their containers…\n`);
    controller.abort();
  } else if (interrupts === 2) {
    process.stderr.write("still cleaning up; press Ctrl-C again to exit now (containers may be left behind)\n");
  } else {
    process.exit(130);
  }
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  signal: controller.signal,
});
// Flush stdout (it may be a pipe), then exit even if an idle keep-alive socket lingers.
process.stdout.write("", () => process.exit(code));
