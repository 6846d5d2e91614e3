// npm run runner:egress -- [--host <endpoint>] [--certs <dir>] [--network <name>] [--port <n>]
//
// Sets up a runner host's egress filter (runner/egress): an internal Docker network without
// traffic between containers, and Debian's squid on the host listening on that network's gateway,
// letting through only RUNNER_EGRESS_ALLOW (default: the common package registries). Prints the
// worker settings that send networked runs through it. Run it again after changing the list.
import { parseArgs } from "node:util";
import { connectDocker, pingEngine, redactEndpoint } from "../runner/docker/connect";
import { ensureHostEgress } from "../runner/egress/egress";
import { DEFAULT_EGRESS_ALLOW, parseEgressAllow } from "../runner/egress/squid-config";

const usage =
  "usage: npm run runner:egress -- [--host <endpoint>] [--certs <dir>] [--network <name>] [--port <n>] [--build-network <mode>]";

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        host: { type: "string" },
        certs: { type: "string" },
        network: { type: "string", default: "bisect-egress" },
        port: { type: "string", default: "3128" },
        "build-network": { type: "string" },
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
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    console.error(`--port must be a port number, got ${values.port}\n${usage}`);
    return 2;
  }
  let allow;
  try {
    allow = parseEgressAllow(process.env.RUNNER_EGRESS_ALLOW ?? DEFAULT_EGRESS_ALLOW.join(","));
  } catch (err) {
    console.error(`RUNNER_EGRESS_ALLOW: ${(err as Error).message}`);
    return 2;
  }
  const endpoint = values.host ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  const tls = endpoint.startsWith("tcp://")
    ? (values.certs ?? process.env.DOCKER_CERT_PATH)
    : undefined;
  const docker = connectDocker(endpoint, { tls });
  await pingEngine(docker, 10_000, redactEndpoint(endpoint));
  const egress = await ensureHostEgress(docker, {
    network: values.network!,
    allow,
    port,
    buildNetworkMode: values["build-network"],
  });
  console.error(
    `egress filter on ${redactEndpoint(endpoint)}: ${[...allow.names, ...allow.addresses].join(", ") || "nothing allowed"}`,
  );
  console.log(`RUNNER_RUN_NETWORK=${egress.network}`);
  console.log(`RUNNER_EGRESS_PROXY=${egress.proxyUrl}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);
