// Removing containers: one (retrying a little), or every one carrying given labels (a reaper's sweep).
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import { InfrastructureError } from "../errors";
import { WORKSPACE_LABEL } from "../labels";

/** Remove a container and its anonymous volumes; an already removed one (or a removal in progress) is fine. */
export async function removeContainer(container: Docker.Container, engine: string): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await container.remove({ force: true, v: true });
      return;
    } catch (err) {
      const status = statusOf(err);
      // 404: already gone. 409: a removal is already in progress.
      if (status === 404 || status === 409) return;
      lastError = err;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
  throw new InfrastructureError(
    `removing container ${container.id} on ${engine} failed: ${describeDockerError(lastError)}`,
  );
}

/** Remove every container carrying all the given labels (a reaper's sweep). Resolves with their ids. */
export async function removeLabelled(
  docker: Docker,
  labels: Record<string, string>,
): Promise<string[]> {
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  if (filters.label.length === 0) throw new Error("removeLabelled needs at least one label");
  let list: Docker.ContainerInfo[];
  try {
    list = await docker.listContainers({ all: true, filters: JSON.stringify(filters) });
  } catch (err) {
    throw new InfrastructureError(`listing containers failed: ${describeDockerError(err)}`);
  }
  const removed: string[] = [];
  const failures: string[] = [];
  // Runs first, then the checkout boxes whose volumes the runs may still mount.
  const runs = list.filter((c) => !c.Labels?.[WORKSPACE_LABEL]);
  const boxes = list.filter((c) => c.Labels?.[WORKSPACE_LABEL]);
  for (const group of [runs, boxes])
    await Promise.all(
      group.map(async (c) => {
        try {
          await docker.getContainer(c.Id).remove({ force: true, v: true });
          removed.push(c.Id);
        } catch (err) {
          const status = statusOf(err);
          if (status === 404 || status === 409) removed.push(c.Id);
          else failures.push(`${c.Id.slice(0, 12)}: ${describeDockerError(err)}`);
        }
      }),
    );
  if (failures.length)
    throw new InfrastructureError(`removing labelled containers failed: ${failures.join("; ")}`);
  return removed;
}
