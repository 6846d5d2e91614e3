// What an executor asks an engine once and remembers: its API version and its volumes' facts.
import type Docker from "dockerode";
import { describeDockerError, statusOf } from "../docker/connect";
import { InfrastructureError } from "../errors";

export interface VolumeFacts {
  /** The volume's directory on the engine's host. */
  mountpoint: string;
  driver: string;
}

export class EngineFacts {
  private version?: Promise<number>;
  private readonly volumes = new Map<string, VolumeFacts>();

  constructor(
    private readonly docker: Docker,
    /** Name of the engine, for messages. */
    private readonly name: string,
  ) {}

  /** The engine's API version as a number (1.45…); a failed answer is asked again next time. */
  apiVersion(): Promise<number> {
    this.version ??= this.docker.version().then(
      (v) => Number.parseFloat(v.ApiVersion) || 0,
      (err: unknown) => {
        this.version = undefined;
        throw new InfrastructureError(
          `asking ${this.name} for its version failed: ${describeDockerError(err)}`,
        );
      },
    );
    return this.version;
  }

  async volume(name: string): Promise<VolumeFacts> {
    const known = this.volumes.get(name);
    if (known) return known;
    try {
      const info = await this.docker.getVolume(name).inspect();
      const facts = { mountpoint: info.Mountpoint, driver: info.Driver };
      this.volumes.set(name, facts);
      return facts;
    } catch (err) {
      if (statusOf(err) === 404)
        throw new InfrastructureError(`volume ${name} does not exist on ${this.name}`);
      throw new InfrastructureError(
        `inspecting volume ${name} on ${this.name} failed: ${describeDockerError(err)}`,
      );
    }
  }

  /** Forget what is known of a volume (it may have been replaced). */
  forgetVolume(name: string): void {
    this.volumes.delete(name);
  }
}
