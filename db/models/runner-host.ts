import { type Modifiers, type QueryBuilder } from "objection";
import { BaseModel } from "./base-model";

export type RunnerHostState = "active" | "draining" | "down";

export class RunnerHost extends BaseModel {
  static override tableName = "runner_hosts";

  id!: number;
  name!: string;
  /** unix:///path, tcp://host:2376 (TLS) or ssh://user@host */
  dockerEndpoint!: string;
  /** Directory with ca.pem, cert.pem, key.pem — a reference, never the material. */
  tlsPath!: string | null;
  /** ssh endpoints: the host key fingerprint pinned when the host was added (`SHA256:…`). */
  sshHostKey!: string | null;
  capacity!: number;
  labels!: Record<string, string>;
  state!: RunnerHostState;
  source!: "env" | "admin";
  lastSeenAt!: Date | null;
  lastError!: string | null;
  createdAt!: Date;
  updatedAt!: Date;

  static override jsonAttributes = ["labels"];

  static override modifiers: Modifiers<QueryBuilder<RunnerHost>> = {
    active(query) {
      query.where("runnerHosts.state", "active");
    },
  };
}
