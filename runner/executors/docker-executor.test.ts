import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { connectDocker } from "../docker/connect";
import { DockerExecutor } from "./docker-executor";

describe("DockerExecutor", () => {
  it("keeps the client's agent cheap to format (docker-modem formats it on every request)", () => {
    const docker = connectDocker("unix:///nonexistent/docker.sock");
    const agent = (docker.modem as { agent?: object }).agent!;
    new DockerExecutor(docker);
    new DockerExecutor(docker, { warmPool: { size: 2 } });
    expect(inspect({ agent }, { showHidden: true, depth: null })).toBe("{ agent: [Agent] }");
    (agent as { destroy(): void }).destroy();
  });

  it("gives each executor its own pool id", () => {
    const docker = connectDocker("unix:///nonexistent/docker.sock");
    const a = new DockerExecutor(docker, { warmPool: { size: 1 } });
    const b = new DockerExecutor(docker, { warmPool: { size: 1 } });
    expect(a.poolId).toMatch(/^[0-9a-f]{16}$/);
    expect(a.poolId).not.toBe(b.poolId);
    expect(a.poolLabels).toMatchObject({ app: "bisect-bot", "bisect-bot.pool": a.poolId });
  });

  it("refuses a pool size below 1", () => {
    const docker = connectDocker("unix:///nonexistent/docker.sock");
    expect(() => new DockerExecutor(docker, { warmPool: { size: 0 } })).toThrow(RangeError);
  });
});
