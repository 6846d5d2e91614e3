// A repository's dependency cache on a runner host: a Docker volume, mounted at /cache in its
// runs, where the usual tools keep their caches (CACHE_ENV). One volume per repository and host —
// the caller names it, and never gives one repository's volume to another. A new volume is made
// writable by the runs' uid by mounting it once where the checkout image has a directory of that
// uid (the engine copies the directory's owner into an empty volume).
import { createHash } from "node:crypto";
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import { InfrastructureError } from "../errors";
import { APP_LABEL, CACHE_LABEL } from "../labels";
import { removeContainer } from "./removal";

export const CACHE_PATH = "/cache";

/** The tools' caches inside /cache (over the work directory's, TOOL_CACHES). */
export const CACHE_ENV: Readonly<Record<string, string>> = {
  npm_config_cache: `${CACHE_PATH}/npm`,
  YARN_CACHE_FOLDER: `${CACHE_PATH}/yarn`,
  PNPM_STORE_DIR: `${CACHE_PATH}/pnpm`,
  PIP_CACHE_DIR: `${CACHE_PATH}/pip`,
  CARGO_HOME: `${CACHE_PATH}/cargo`,
  GOMODCACHE: `${CACHE_PATH}/go/mod`,
  GOCACHE: `${CACHE_PATH}/go/build`,
  CCACHE_DIR: `${CACHE_PATH}/ccache`,
};

/** Where the extra paths of bisect.yml's `cache:` are kept in the volume. */
const PATHS_DIR = `${CACHE_PATH}/paths`;

/** A path's name under PATHS_DIR: short, and the same for the same path. */
function pathKey(path: string): string {
  return createHash("sha256").update(path).digest("hex").slice(0, 16);
}

/**
 * The variable telling a run's setup which extra paths to restore and save: `key:path` pairs,
 * space-separated (the paths are checked plain names, settings/cache-paths.ts).
 */
export const CACHE_PATHS_VAR = "BISECT_CACHE_PATHS";

export function cachePathsEnv(paths: readonly string[]): Record<string, string> {
  if (paths.length === 0) return {};
  return { [CACHE_PATHS_VAR]: paths.map((p) => `${pathKey(p)}:${p}`).join(" ") };
}

// The setup's side of the extra paths (run-script.ts puts these around the setup; the test never
// runs them). Each path is kept as versions `PATHS_DIR/<key>/v.<epoch>.<random>/item` (mktemp: two
// containers' shells often have the same pid), the one to restore named in `current`, which is
// replaced by a rename — so steps of the repository running
// at once on the host never see half a save. A version that is neither current nor the one just
// replaced, and older than ten minutes, is removed by the next save. A failure to restore or save
// is reported and never fails the run.
const FOR_EACH_PATH = `for e in $${CACHE_PATHS_VAR}; do k=\${e%%:*}; p=\${e#*:}; d=${PATHS_DIR}/$k;`;

// Python's bytecode (`__pycache__/*.pyc`) records its source's date and is compiled again when the
// dates differ: a restored virtualenv whose `.py` files were re-dated would recompile all of pip on
// the next `pip install` (seconds). Those keep the dates they were saved with; a generated `.py`
// output is then at worst older than the checkout, and rebuilt.
const KEEP_DATES = `! -name "*.py" ! -name "*.pyc"`;

/**
 * Before the setup: the paths' last saved versions, copied into the checkout where the commit has
 * nothing of that name. The step that saved them may have built another commit, and an output
 * newer than the checkout's files would look up to date to make, cmake or cargo. So, when the
 * image has git and the save names its commit (`bh`, the commit checked out here), the outputs are
 * dated now (no older than any file of the checkout) and the files that differ between the two
 * commits a moment later: a build tool rebuilds exactly what the change feeds. Otherwise (no git,
 * an unknown commit or an unusual file name, a failed touch) the outputs are dated 2000-01-01 and
 * it rebuilds whatever the commit's files feed. Python's sources and bytecode keep their dates
 * either way (KEEP_DATES). What does not depend on them (downloads, configuration, a virtualenv)
 * is reused.
 */
const RETIME_RESTORED = [
  "b=$(cat $d/$v/commit 2>/dev/null) || b=; rf=;",
  'if [ -n "$bh" ] && [ -n "$b" ] && ch=$(git -c core.quotePath=false diff --name-only --no-renames "$b" "$bh" -- 2>/dev/null)',
  `&& ! printf "%s\\n" "$ch" | grep -q "^\\"" && rf=$(mktemp) && find $p ${KEEP_DATES} -exec touch -c -r "$rf" {} + 2>/dev/null`,
  '&& { [ -z "$ch" ] || { sleep 0.02 2>/dev/null || sleep 1;',
  'printf "%s\\n" "$ch" | tr "\\n" "\\000" | xargs -0 touch -c -- 2>/dev/null; }; };',
  `then :; else find $p ${KEEP_DATES} -exec touch -c -t 200001010000 {} + 2>/dev/null; fi; [ -z "$rf" ] || rm -f "$rf"; true;`,
].join(" ");

export const RESTORE_CACHE_PATHS = [
  `kp=; if [ -n "$${CACHE_PATHS_VAR}" ]; then bh=$(git rev-parse -q --verify HEAD 2>/dev/null) || bh=; fi;`,
  `if [ -n "$${CACHE_PATHS_VAR}" ] && [ -d ${PATHS_DIR} ]; then`,
  FOR_EACH_PATH,
  `v=$(cat $d/current 2>/dev/null) || continue; s=$d/$v/item; [ -e $s ] || continue;`,
  `if [ -e $p ]; then if [ -z "$bh" ]; then w="is already in the checkout";`,
  `elif git ls-files --error-unmatch -- $p >/dev/null 2>&1; then w="is in the commit";`,
  `else w="is kept from the last step run here"; kp="$kp $p"; fi;`,
  `echo "bisect-runner: $p $w: not restored from the cache" >&2; continue; fi;`,
  `case $p in */*) mkdir -p \${p%/*};; esac;`,
  `cp -a $s $p && { ${RETIME_RESTORED} }`,
  `&& echo "bisect-runner: restored $p from the cache" >&2`,
  `|| echo "bisect-runner: could not restore $p from the cache" >&2;`,
  "done; fi;",
].join(" ");

/**
 * After a setup that succeeded: each path that exists becomes its new version — but for one kept
 * in place from the last step in this directory (`kp`, workspace.ts), which the cache already has
 * an earlier version of: copying a whole build directory out on every step would cost more than
 * the next job's rebuilding what changed since that version.
 */
export const SAVE_CACHE_PATHS = [
  `if [ -n "$${CACHE_PATHS_VAR}" ] && [ -d ${CACHE_PATH} ] && [ -w ${CACHE_PATH} ]; then`,
  FOR_EACH_PATH,
  '[ -e $p ] || continue; case " $kp " in *" $p "*) continue;; esac;',
  "now=$(date +%s); old=$(cat $d/current 2>/dev/null); v=; c=;",
  "if mkdir -p $d && n=$(mktemp -d $d/v.$now.XXXXXXXX) && v=${n##*/} && cp -a $p $n/item",
  '&& { [ -z "$bh" ] || echo "$bh" >$n/commit; }',
  "&& c=$(mktemp $d/.current.XXXXXXXX) && echo $v >$c && mv -f $c $d/current;",
  `then echo "bisect-runner: saved $p to the cache" >&2;`,
  `else [ -n "$v" ] && rm -rf "$d/$v"; [ -n "$c" ] && rm -f "$c";`,
  `echo "bisect-runner: could not save $p to the cache" >&2; continue; fi;`,
  'for o in $d/v.*; do n=${o##*/}; [ -d $o ] && [ $n != $v ] && [ $n != "$old" ] || continue;',
  't=${n#v.}; t=${t%%.*}; case $t in *[!0-9]*|"") continue;; esac;',
  "[ $((now - t)) -gt 600 ] && rm -rf $o; done;",
  "done; fi;",
].join(" ");

/**
 * What a run that sees the cache read-only (a test phase, a run without a setup) must still be
 * able to write: Go refuses to build with a read-only GOCACHE, so its build cache is the work
 * directory's; ccache reads the shared cache, adds nothing to it, and keeps its temporary files
 * in /work. The downloaded modules and crates are still read from the cache.
 */
export const READ_ONLY_CACHE_ENV = {
  GOCACHE: "/work/.cache/go-build",
  CCACHE_READONLY: "true",
  CCACHE_TEMPDIR: "/work/.cache/ccache-tmp",
} as const;

/**
 * The largest Go build cache a test phase copies (MiB): a quarter of the default work directory.
 * Beyond it the test compiles in an empty cache of its own.
 */
export const GO_CACHE_COPY_MAX_MB = 256;

/**
 * The same, in the test phase's shell after it read the setup's exports (which name /cache). Go's
 * build cache cannot be read in place: Go writes to it as it reads (its package index among
 * others) and fails on a read-only one. So the test gets a copy of the build cache that its setup
 * and the earlier steps filled (the Go setup compiles the tests, ecosystems.ts) and compiles only
 * what changed since, while the shared cache stays as it was.
 */
export const READ_ONLY_CACHE_SHELL = [
  `case "$GOCACHE" in ${CACHE_PATH}/*) s=$GOCACHE; export GOCACHE=${READ_ONLY_CACHE_ENV.GOCACHE};`,
  `if [ -d "$s/ff" ] && [ ! -e "$GOCACHE" ] && [ "$(du -sm "$s" 2>/dev/null | cut -f1)" -le ${GO_CACHE_COPY_MAX_MB} ] 2>/dev/null; then`,
  `mkdir -p "\${GOCACHE%/*}" && { cp -a "$s" "$GOCACHE" 2>/dev/null || rm -rf "$GOCACHE"; }; fi;; esac;`,
  `case "$CCACHE_DIR" in ${CACHE_PATH}/*) export CCACHE_READONLY=true CCACHE_TEMPDIR=${READ_ONLY_CACHE_ENV.CCACHE_TEMPDIR};; esac;`,
].join(" ");

/** The cache volume of a repository key (one repository of one installation). */
export function cacheVolumeName(repoKey: string): string {
  return `bisect-cache-${createHash("sha256").update(repoKey).digest("hex").slice(0, 24)}`;
}

/** Make the volume when missing, owned by the runs' uid. */
export async function ensureCacheVolume(
  docker: Docker,
  volume: string,
  options: { image: string; labels: Record<string, string>; engine: string },
): Promise<void> {
  try {
    await docker.getVolume(volume).inspect();
    return;
  } catch (err) {
    if (statusOf(err) !== 404)
      throw new InfrastructureError(
        `inspecting cache volume ${volume} on ${options.engine} failed: ${describeDockerError(err)}`,
      );
  }
  let container: Docker.Container | undefined;
  try {
    // Not the run's labels: a cache outlives its job (a reaper removes a job's volumes).
    await docker.createVolume({ Name: volume, Labels: { ...APP_LABEL, [CACHE_LABEL]: volume } });
    // /work of the checkout image belongs to uid 1000: mounted there, the empty volume takes it.
    container = await docker.createContainer({
      Image: options.image,
      Cmd: ["true"],
      Entrypoint: [],
      Labels: { ...options.labels, ...APP_LABEL },
      HostConfig: {
        NetworkMode: "none",
        Mounts: [{ Type: "volume", Source: volume, Target: "/work" }],
      },
    });
  } catch (err) {
    throw new InfrastructureError(
      `making cache volume ${volume} on ${options.engine} failed: ${describeDockerError(err)}`,
    );
  } finally {
    if (container) await removeContainer(container, options.engine);
  }
}

/** What the engine says of a volume: its size, and how many containers mount it (-1: unknown). */
export interface VolumeUsage {
  sizeBytes: number;
  containers: number;
}

/**
 * The engine's sizes of its volumes, by name (`docker system df`: it measures every volume, so a
 * caller asks once per pass, not once per volume).
 */
export async function volumeUsage(docker: Docker): Promise<Map<string, VolumeUsage>> {
  const df = (await docker.df()) as {
    Volumes?: { Name: string; UsageData?: { Size?: number; RefCount?: number } | null }[] | null;
  };
  const usage = new Map<string, VolumeUsage>();
  for (const v of df.Volumes ?? [])
    usage.set(v.Name, {
      sizeBytes: Math.max(0, v.UsageData?.Size ?? 0),
      containers: v.UsageData?.RefCount ?? -1,
    });
  return usage;
}

/** Remove a cache volume: true when gone (or never there), false when a container still uses it. */
export async function removeCacheVolume(docker: Docker, volume: string): Promise<boolean> {
  try {
    await docker.getVolume(volume).remove();
    return true;
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) return true;
    if (status === 409) return false;
    throw new InfrastructureError(`removing cache volume ${volume}: ${describeDockerError(err)}`);
  }
}
