// Any image a job names, on the runner host that runs it: checked against the operator's policy,
// pulled when missing (one pull per engine and image at a time, shared by every caller waiting for
// it, its progress reported), and pinned: `resolveImage` answers with a reference that names
// exactly this image (`repo@sha256:…` once pulled from a registry, else the image id), so every
// step of a job runs on the same bytes even when the tag moves.
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import { InfrastructureError } from "../errors";
import { checkImagePolicy, parseImageRef, type ImagePolicy, type ImageRef } from "./policy";

export interface ResolvedImage {
  /** The reference as named, normalised (`docker.io/library/node:20`). */
  ref: string;
  /** The reference to run: `name@sha256:…` when the image came from a registry, else its id. */
  pinned: string;
  /** Image id (sha256 of its configuration) on this engine. */
  id: string;
  /** Registry digest (`name@sha256:…`), when known. */
  repoDigest?: string;
  sizeBytes: number;
  /** Whether this call (or the one it joined) pulled it. */
  pulled: boolean;
}

/** An image the policy refuses, or one too large: the job's fault, not the host's. */
export class ImageRefusedError extends Error {
  override name = "ImageRefusedError";
}

export interface ResolveOptions {
  policy: ImagePolicy;
  /** Pull progress, one short line at a time (e.g. for a status comment). */
  onProgress?: (line: string) => void;
  /** Bytes of the pull: downloaded and announced so far, over every layer (compressed). */
  onBytes?: (progress: { doneBytes: number; totalBytes: number }) => void;
  signal?: AbortSignal;
}

const pulls = new WeakMap<Docker, Map<string, Promise<ResolvedImage>>>();

/**
 * Resolve `reference` on this engine: refuse it when the policy does, pull it when missing (joining
 * a pull already in flight for the same image on the same engine), then pin it.
 */
export function resolveImage(
  docker: Docker,
  reference: string,
  options: ResolveOptions,
): Promise<ResolvedImage> {
  let ref: ImageRef;
  try {
    ref = parseImageRef(reference);
  } catch (err) {
    return Promise.reject(new ImageRefusedError((err as Error).message));
  }
  const refusal = checkImagePolicy(options.policy, ref);
  if (refusal) return Promise.reject(new ImageRefusedError(refusal));
  let perEngine = pulls.get(docker);
  if (!perEngine) pulls.set(docker, (perEngine = new Map()));
  const running = perEngine.get(ref.canonical);
  if (running) {
    if (options.onProgress) options.onProgress(`waiting for the pull of ${ref.canonical}`);
    return running;
  }
  const made = resolveOnce(docker, ref, options).finally(() => perEngine.delete(ref.canonical));
  perEngine.set(ref.canonical, made);
  return made;
}

async function resolveOnce(
  docker: Docker,
  ref: ImageRef,
  options: ResolveOptions,
): Promise<ResolvedImage> {
  let info = await inspect(docker, ref.canonical);
  let pulled = false;
  if (!info) {
    await pull(docker, ref, options);
    pulled = true;
    info = await inspect(docker, ref.canonical);
    if (!info)
      throw new InfrastructureError(`pulled ${ref.canonical} but the engine does not have it`);
  }
  const max = options.policy.maxBytes;
  if (max !== undefined && info.Size > max) {
    if (pulled) {
      // Only the names this pull added: the same image may be known here by others.
      const names = [
        ref.canonical,
        ...(info.RepoDigests ?? []).filter((d) => d.startsWith(`${ref.shortName}@`)),
      ];
      for (const name of names)
        await docker
          .getImage(name)
          .remove()
          .catch(() => {});
    }
    throw new ImageRefusedError(
      `image ${ref.canonical} is ${mb(info.Size)} MB, over the ${mb(max)} MB this runner allows`,
    );
  }
  const repoDigest =
    (info.RepoDigests ?? []).find((d) => d.startsWith(`${ref.name}@`)) ??
    (info.RepoDigests ?? []).find((d) => d.startsWith(`${ref.shortName}@`));
  return {
    ref: ref.canonical,
    pinned: ref.digest ? ref.canonical : (repoDigest ?? info.Id),
    id: info.Id,
    repoDigest,
    sizeBytes: info.Size,
    pulled,
  };
}

async function inspect(docker: Docker, name: string): Promise<Docker.ImageInspectInfo | null> {
  try {
    return await docker.getImage(name).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw new InfrastructureError(`inspecting image ${name} failed: ${describeDockerError(err)}`);
  }
}

async function pull(docker: Docker, ref: ImageRef, options: ResolveOptions): Promise<void> {
  const auth = options.policy.auth?.[ref.registry];
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.pull(ref.canonical, {
      ...(auth ? { authconfig: { ...auth, serveraddress: ref.registry } } : {}),
      abortSignal: abort.signal,
    } as Record<string, unknown>);
  } catch (err) {
    options.signal?.removeEventListener("abort", onAbort);
    throw pullError(ref, err);
  }
  // Layers' compressed sizes as announced: a pull already over the cap is stopped early.
  const layerTotals = new Map<string, number>();
  const layerDone = new Map<string, number>();
  let tooLarge = false;
  let lastLine = "";
  try {
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (err: Error | null, messages: Array<{ error?: string }>) => {
          const failed = err ?? messages?.find((m) => m.error)?.error;
          if (failed) reject(failed instanceof Error ? failed : new Error(String(failed)));
          else resolve();
        },
        (event: {
          status?: string;
          id?: string;
          progressDetail?: { total?: number; current?: number };
        }) => {
          const total = event.progressDetail?.total;
          if (event.id && typeof total === "number") layerTotals.set(event.id, total);
          const current = event.progressDetail?.current;
          if (event.id && event.status === "Downloading" && typeof current === "number")
            layerDone.set(event.id, current);
          if (event.id && event.status === "Download complete" && layerTotals.has(event.id))
            layerDone.set(event.id, layerTotals.get(event.id)!);
          const sum = [...layerTotals.values()].reduce((a, b) => a + b, 0);
          if (options.onBytes && event.id && event.status?.startsWith("Download"))
            options.onBytes({
              doneBytes: [...layerDone.values()].reduce((a, b) => a + b, 0),
              totalBytes: sum,
            });
          const max = options.policy.maxBytes;
          if (max !== undefined && sum > max && !tooLarge) {
            tooLarge = true;
            abort.abort();
          }
          const line = `pulling ${ref.canonical}: ${event.status ?? ""}${event.id ? ` ${event.id}` : ""}`;
          if (line !== lastLine) {
            lastLine = line;
            options.onProgress?.(line);
          }
        },
      );
    });
  } catch (err) {
    if (tooLarge)
      throw new ImageRefusedError(
        `image ${ref.canonical} is larger than the ${mb(options.policy.maxBytes!)} MB this runner allows`,
      );
    throw pullError(ref, err);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}

function pullError(ref: ImageRef, err: unknown): Error {
  const status = statusOf(err);
  const detail = describeDockerError(err);
  // 404: no such repository or tag; 401/403: not allowed to read it.
  if (status === 404 || /not found|manifest unknown|does not exist/i.test(detail))
    return new ImageRefusedError(`image ${ref.canonical} was not found in its registry: ${detail}`);
  if (status === 401 || status === 403 || /unauthorized|denied/i.test(detail))
    return new ImageRefusedError(
      `pulling ${ref.canonical} was refused by its registry (credentials for ${ref.registry}?): ${detail}`,
    );
  return new InfrastructureError(`pulling ${ref.canonical} failed: ${detail}`);
}

const mb = (bytes: number) => Math.ceil(bytes / (1024 * 1024));
