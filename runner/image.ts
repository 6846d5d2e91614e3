// The runner image: built from runner/Dockerfile through the engine's API (no docker CLI), tagged
// `bisect-runner:latest` by default and labelled with a hash of the build context, so an
// unchanged Dockerfile is never rebuilt and every host can tell whether its copy is current.
//
// A host whose containers cannot reach Debian's mirror through the default bridge builds with
// `networkMode: "host"`, or receives the image from a host that has it (`copyImage`, or
// `ensureRunnerImage(docker, { source })`) — no registry involved.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "./docker/connect";
import { tarFiles, type TarEntry } from "./docker/tar";
import { InfrastructureError } from "./errors";

export const DEFAULT_RUNNER_IMAGE = "bisect-runner:latest";
export const RUNNER_HASH_LABEL = "bisect-bot.runner.content-hash";

export interface BuildContext {
  files: TarEntry[];
  /** sha256 over every file's name, mode and content. */
  hash: string;
}

/** The build context: runner/Dockerfile, read from beside this module. */
export function runnerBuildContext(): BuildContext {
  const dockerfile = readFileSync(fileURLToPath(new URL("./Dockerfile", import.meta.url)));
  const files: TarEntry[] = [{ name: "Dockerfile", content: dockerfile, mode: 0o644 }];
  return { files, hash: contextHash(files) };
}

export function contextHash(files: readonly TarEntry[]): string {
  const h = createHash("sha256");
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const content = typeof f.content === "string" ? Buffer.from(f.content) : f.content;
    h.update(`${f.name}\0${(f.mode ?? 0o644).toString(8)}\0${content.length}\0`);
    h.update(content);
  }
  return h.digest("hex");
}

export interface EnsureImageOptions {
  /** Image tag, default `bisect-runner:latest`. */
  tag?: string;
  /** Build even when the engine has an image with the current hash (no build cache either). */
  rebuild?: boolean;
  /** Network mode of the build's RUN steps ("host" where the default bridge has no route out). */
  networkMode?: string;
  /** Another engine to copy the image from when it has the current one, instead of building. */
  source?: Docker;
  /** Build output and progress, line by line. */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
  /** Replace the build context (tests). */
  context?: BuildContext;
}

export interface EnsureImageResult {
  /** Image id (sha256:…). */
  id: string;
  tag: string;
  hash: string;
  action: "present" | "built" | "copied" | "tagged";
}

interface ImageFacts {
  id: string;
  hash: string | undefined;
}

async function inspectImage(docker: Docker, tag: string): Promise<ImageFacts | null> {
  try {
    const info = await docker.getImage(tag).inspect();
    return { id: info.Id, hash: info.Config?.Labels?.[RUNNER_HASH_LABEL] };
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw new InfrastructureError(`inspecting image ${tag} failed: ${describeDockerError(err)}`);
  }
}

/** An image on the engine built from the context with this hash, by any name. */
async function imageWithHash(docker: Docker, hash: string): Promise<string | null> {
  try {
    const found = await docker.listImages({
      filters: JSON.stringify({ label: [`${RUNNER_HASH_LABEL}=${hash}`] }),
    });
    return found[0]?.Id ?? null;
  } catch {
    return null;
  }
}

const inFlight = new WeakMap<Docker, Map<string, Promise<EnsureImageResult>>>();

/**
 * Make sure the engine has the runner image for the current build context: reuse it when its
 * hash label matches, else copy it from `source` when that engine has the current one, else build.
 * Concurrent calls for the same engine and tag share one build.
 */
export function ensureRunnerImage(
  docker: Docker,
  options: EnsureImageOptions = {},
): Promise<EnsureImageResult> {
  const tag = options.tag ?? DEFAULT_RUNNER_IMAGE;
  let perEngine = inFlight.get(docker);
  if (!perEngine) inFlight.set(docker, (perEngine = new Map()));
  const running = perEngine.get(tag);
  if (running && !options.rebuild) return running;
  const promise = ensureOnce(docker, tag, options).finally(() => perEngine.delete(tag));
  perEngine.set(tag, promise);
  return promise;
}

async function ensureOnce(
  docker: Docker,
  tag: string,
  options: EnsureImageOptions,
): Promise<EnsureImageResult> {
  const context = options.context ?? runnerBuildContext();
  if (!options.rebuild) {
    const present = await inspectImage(docker, tag);
    if (present && present.hash === context.hash)
      return { id: present.id, tag, hash: context.hash, action: "present" };
    // The same build under another name (another tag of the same context): name it, no copy.
    const same = await imageWithHash(docker, context.hash);
    if (same) {
      const colon = tag.lastIndexOf(":");
      const named =
        colon > tag.lastIndexOf("/")
          ? { repo: tag.slice(0, colon), tag: tag.slice(colon + 1) }
          : { repo: tag, tag: "latest" };
      await docker.getImage(same).tag(named);
      const tagged = await inspectImage(docker, tag);
      if (tagged && tagged.hash === context.hash)
        return { id: tagged.id, tag, hash: context.hash, action: "tagged" };
    }
    if (options.source) {
      const there = await inspectImage(options.source, tag);
      if (there && there.hash === context.hash) {
        options.onProgress?.(`copying ${tag} from another engine`);
        await copyImage(options.source, docker, tag, {
          onProgress: options.onProgress,
          signal: options.signal,
        });
        const copied = await inspectImage(docker, tag);
        if (!copied || copied.hash !== context.hash)
          throw new InfrastructureError(`copy of ${tag} did not arrive intact`);
        return { id: copied.id, tag, hash: context.hash, action: "copied" };
      }
    }
  }
  const id = await buildImage(docker, tag, context, options);
  return { id, tag, hash: context.hash, action: "built" };
}

/** Build the context into `tag` with the hash label. Resolves with the image id. */
export async function buildImage(
  docker: Docker,
  tag: string,
  context: BuildContext,
  options: Pick<EnsureImageOptions, "rebuild" | "networkMode" | "onProgress" | "signal"> = {},
): Promise<string> {
  const tar = tarFiles(context.files);
  let response: NodeJS.ReadableStream;
  try {
    response = await docker.buildImage(Readable.from([tar]), {
      t: tag,
      labels: { [RUNNER_HASH_LABEL]: context.hash },
      rm: true,
      forcerm: true,
      pull: false,
      nocache: options.rebuild === true,
      ...(options.networkMode ? { networkmode: options.networkMode } : {}),
      ...(options.signal ? { abortSignal: options.signal } : {}),
    } as Docker.ImageBuildOptions);
  } catch (err) {
    throw new InfrastructureError(`building ${tag} failed to start: ${describeDockerError(err)}`);
  }
  const recent: string[] = [];
  let imageId: string | undefined;
  let failure: string | undefined;
  await readJsonLines(response, (msg) => {
    if (typeof msg.stream === "string") {
      for (const line of msg.stream.split("\n")) {
        if (!line.trim()) continue;
        recent.push(line);
        if (recent.length > 20) recent.shift();
        options.onProgress?.(line);
      }
    }
    if (typeof msg.status === "string") options.onProgress?.(msg.status);
    const aux = msg.aux as { ID?: string } | undefined;
    if (aux && typeof aux.ID === "string") imageId = aux.ID;
    if (msg.error !== undefined) {
      const detail = (msg.errorDetail as { message?: string } | undefined)?.message;
      failure = String(detail ?? msg.error);
    }
  }).catch((err: unknown) => {
    failure ??= `build stream broke: ${describeDockerError(err)}`;
  });
  if (failure) {
    const tail = recent.length ? `\n--- last build output ---\n${recent.join("\n")}` : "";
    throw new InfrastructureError(`building ${tag} failed: ${failure.trim()}${tail}`);
  }
  const built = await inspectImage(docker, tag);
  if (!built)
    throw new InfrastructureError(`building ${tag} reported success but the image is missing`);
  if (built.hash !== context.hash)
    throw new InfrastructureError(`building ${tag}: the image lacks the content-hash label`);
  if (imageId && imageId !== built.id) {
    // Another build replaced the tag in between: still a correct image for this context.
    options.onProgress?.(`note: ${tag} now points at ${built.id}`);
  }
  return built.id;
}

/** Copy an image between engines: `GET /images/{tag}/get` streamed into `POST /images/load`. */
export async function copyImage(
  from: Docker,
  to: Docker,
  tag: string,
  options: { onProgress?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<void> {
  let exported: NodeJS.ReadableStream;
  try {
    exported = await from.getImage(tag).get();
  } catch (err) {
    throw new InfrastructureError(`exporting ${tag} failed: ${describeDockerError(err)}`);
  }
  let loaded: NodeJS.ReadableStream;
  try {
    loaded = await to.loadImage(exported, {
      quiet: true,
      ...(options.signal ? { abortSignal: options.signal } : {}),
    });
  } catch (err) {
    (exported as unknown as { destroy?: () => void }).destroy?.();
    throw new InfrastructureError(`loading ${tag} failed: ${describeDockerError(err)}`);
  }
  let failure: string | undefined;
  await readJsonLines(loaded, (msg) => {
    if (typeof msg.stream === "string" && msg.stream.trim())
      options.onProgress?.(msg.stream.trim());
    if (msg.error !== undefined)
      failure = String((msg.errorDetail as { message?: string } | undefined)?.message ?? msg.error);
  }).catch((err: unknown) => {
    failure ??= `load stream broke: ${describeDockerError(err)}`;
  });
  if (failure) throw new InfrastructureError(`loading ${tag} failed: ${failure}`);
}

/** Consume a stream of newline-separated JSON messages (Docker's progress format). */
function readJsonLines(
  stream: NodeJS.ReadableStream,
  onMessage: (msg: Record<string, unknown>) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const handle = (line: string) => {
      const text = line.trim();
      if (!text) return;
      try {
        onMessage(JSON.parse(text) as Record<string, unknown>);
      } catch {
        onMessage({ stream: text });
      }
    };
    stream.on("data", (chunk: Buffer | string) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        handle(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    stream.on("end", () => {
      handle(buffered);
      resolve();
    });
    stream.on("error", reject);
  });
}
