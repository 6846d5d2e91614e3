// npm run runner:image -- [--host <endpoint>] [--certs <dir>] [--tag <tag>] [--rebuild]
//                         [--network <mode>] [--from <endpoint>] [--from-certs <dir>]
//
// Builds the runner image (runner/Dockerfile) on a Docker engine — DOCKER_HOST by default — unless
// the engine already has it for the current Dockerfile, and prints the image id on stdout.
// Build output goes to stderr.
//   --network host   for engines whose default bridge has no route out (apt-get needs one)
//   --from <ep>      copy the image from another engine that has it instead of building
import { parseArgs } from "node:util";
import { connectDocker, pingEngine, redactEndpoint } from "../runner/docker/connect";
import { DEFAULT_RUNNER_IMAGE, ensureRunnerImage } from "../runner/image";

const usage = `usage: npm run runner:image -- [--host <endpoint>] [--certs <dir>] [--tag <tag>] [--rebuild]
                            [--network <mode>] [--from <endpoint>] [--from-certs <dir>]`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        host: { type: "string" },
        certs: { type: "string" },
        tag: { type: "string" },
        rebuild: { type: "boolean" },
        network: { type: "string" },
        from: { type: "string" },
        "from-certs": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const endpoint = values.host ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  const certs = values.certs ?? (values.host ? undefined : process.env.DOCKER_CERT_PATH);
  const tlsFor = (ep: string, dir: string | undefined) =>
    ep.startsWith("unix://") || ep.startsWith("ssh://") ? undefined : dir;
  const docker = connectDocker(endpoint, { tls: tlsFor(endpoint, certs) });
  await pingEngine(docker, 10_000, redactEndpoint(endpoint));

  let source;
  if (values.from) {
    source = connectDocker(values.from, {
      tls: tlsFor(values.from, values["from-certs"] ?? certs),
    });
    await pingEngine(source, 10_000, redactEndpoint(values.from));
  }

  const tag = values.tag ?? DEFAULT_RUNNER_IMAGE;
  console.error(`runner image ${tag} on ${redactEndpoint(endpoint)}`);
  const started = Date.now();
  const result = await ensureRunnerImage(docker, {
    tag,
    rebuild: values.rebuild,
    networkMode: values.network,
    source,
    onProgress: (line) => console.error(`  ${line}`),
  });
  const verb = {
    present: "already present",
    built: "built",
    copied: "copied",
    tagged: "named from the same build",
  }[result.action];
  console.error(
    `${tag} ${verb} in ${((Date.now() - started) / 1000).toFixed(1)} s (context ${result.hash.slice(0, 12)})`,
  );
  console.log(result.id);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    process.exit(1);
  },
);
