// The egress filter's rules: the operator's allow-list in, a squid configuration out. Pure.
//
// A run that has network reaches the outside only through this proxy (its network is internal:
// no route out, no traffic between containers). The proxy lets through:
//   - a host name on the list (`registry.npmjs.org`, or `.npmjs.org` for the domain and every
//     subdomain), on ports 80 and 443 only, and only when it resolves to a public address — a name
//     that resolves to a private, loopback, link-local (the cloud metadata address among them) or
//     other reserved address is refused, so DNS cannot turn an allowed name into a way inside;
//   - an IP address on the list, on any port, whatever its range: the operator named it (a local
//     registry mirror, say).
// Everything else is refused with 403 before any connection is made: a destination not on the
// list is refused by its name alone, without even a DNS lookup.
import { isIP } from "node:net";

/** The common package registries (and GitHub for git dependencies): the default allow-list. */
export const DEFAULT_EGRESS_ALLOW: readonly string[] = [
  "registry.npmjs.org",
  "registry.yarnpkg.com",
  "pypi.org",
  "files.pythonhosted.org",
  "crates.io",
  "static.crates.io",
  "index.crates.io",
  "proxy.golang.org",
  "sum.golang.org",
  "github.com",
  "codeload.github.com",
  "objects.githubusercontent.com",
];

/** Ranges no allow-listed name may resolve to (IPv4 and IPv6 special-purpose registries). */
export const PRIVATE_RANGES: readonly string[] = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "::/128",
  "::1/128",
  "::ffff:0:0/96",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
];

const HOST_NAME =
  /^\.?(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export interface EgressAllow {
  /** Host names (`.example.org`: the domain and its subdomains). */
  names: string[];
  /** IP addresses, allowed on any port whatever their range. */
  addresses: string[];
}

/** Read an allow-list (comma or space separated); throws with every bad entry named. */
export function parseEgressAllow(text: string): EgressAllow {
  const names: string[] = [];
  const addresses: string[] = [];
  const bad: string[] = [];
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    if (isIP(entry)) addresses.push(entry);
    else if (HOST_NAME.test(entry)) names.push(entry.toLowerCase());
    else bad.push(JSON.stringify(entry));
  }
  if (bad.length)
    throw new Error(
      `not a host name or an IP address: ${bad.join(", ")} (give names like registry.npmjs.org or .npmjs.org, or addresses like 10.0.0.5)`,
    );
  return { names, addresses };
}

/** The squid configuration of the filter, listening on `listen` (`host:port` or a port). */
export function squidConfig(allow: EgressAllow, listen: string): string {
  const list = [...allow.names, ...allow.addresses];
  const lines = [
    `http_port ${listen}`,
    // Nothing is cached, nothing is written but the logs (to the container's output).
    "cache deny all",
    "cache_mem 8 MB",
    "pid_filename none",
    "access_log stdio:/dev/stdout",
    "cache_log stdio:/dev/stderr",
    "logfile_rotate 0",
    "coredump_dir /tmp",
    "forwarded_for delete",
    "via off",
    "httpd_suppress_version_string on",
    // -n: match the request's host as written (no reverse DNS for an address).
    list.length ? `acl allowed dstdomain -n ${list.join(" ")}` : null,
    allow.addresses.length
      ? `acl operator_addresses dstdomain -n ${allow.addresses.join(" ")}`
      : null,
    `acl private dst ${PRIVATE_RANGES.join(" ")}`,
    "acl web_ports port 80 443",
    "acl CONNECT method CONNECT",
    // Not on the list: refused by name, before any DNS lookup or connection.
    list.length ? "http_access deny !allowed" : "http_access deny all",
    allow.addresses.length ? "http_access allow operator_addresses" : null,
    // An allowed name that resolves to a private address (DNS rebinding, a poisoned resolver).
    "http_access deny private",
    "http_access deny !web_ports",
    "http_access allow allowed",
    "http_access deny all",
  ];
  return `${lines.filter((l): l is string => l !== null).join("\n")}\n`;
}
