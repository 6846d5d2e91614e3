import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkImagePolicy, imagePolicyFrom, loadRegistryAuth, parseImageRef } from "./policy";

describe("parseImageRef", () => {
  it("normalises references the way Docker does", () => {
    expect(parseImageRef("node:20")).toMatchObject({
      registry: "docker.io",
      repository: "library/node",
      tag: "20",
      shortName: "node",
      canonical: "docker.io/library/node:20",
    });
    expect(parseImageRef("python").canonical).toBe("docker.io/library/python:latest");
    expect(parseImageRef("acme/app:1.2").canonical).toBe("docker.io/acme/app:1.2");
    expect(parseImageRef("127.0.0.1:5000/team/app:v1")).toMatchObject({
      registry: "127.0.0.1:5000",
      repository: "team/app",
      name: "127.0.0.1:5000/team/app",
    });
    const digest = `sha256:${"a".repeat(64)}`;
    expect(parseImageRef(`ghcr.io/acme/app@${digest}`)).toMatchObject({
      registry: "ghcr.io",
      tag: undefined,
      digest,
      canonical: `ghcr.io/acme/app@${digest}`,
    });
  });

  it("rejects what is not a reference", () => {
    for (const bad of ["", "Node:20", "a b", "node:", "x@sha256:zz", "-x/y"])
      expect(() => parseImageRef(bad), bad).toThrow(/invalid image reference/);
  });
});

describe("checkImagePolicy", () => {
  const policy = {
    allow: ["docker.io/library/*", "ghcr.io/acme/**"],
    always: ["bisect-runner:latest"],
  };
  it("allows matching repositories and the runner image, and says why it refuses", () => {
    expect(checkImagePolicy(policy, parseImageRef("node:20"))).toBeNull();
    expect(checkImagePolicy(policy, parseImageRef("ghcr.io/acme/tools/build:1"))).toBeNull();
    expect(checkImagePolicy(policy, parseImageRef("bisect-runner:latest"))).toBeNull();
    expect(checkImagePolicy(policy, parseImageRef("evil/node:20"))).toMatch(
      /docker\.io\/evil\/node:20 is not allowed on this runner \(allowed: docker\.io\/library\/\*, ghcr\.io\/acme\/\*\*\)/,
    );
    // `*` stays within one segment.
    expect(
      checkImagePolicy({ allow: ["ghcr.io/acme/*"] }, parseImageRef("ghcr.io/acme/a/b")),
    ).not.toBeNull();
  });
});

describe("registry credentials", () => {
  it("reads a Docker config.json and builds the policy from the settings", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bisect-auth-"));
    try {
      const file = path.join(dir, "config.json");
      writeFileSync(
        file,
        JSON.stringify({
          auths: {
            "https://index.docker.io/v1/": { auth: Buffer.from("me:s3cret").toString("base64") },
            "ghcr.io": { identitytoken: "tok" },
          },
        }),
      );
      expect(loadRegistryAuth(file)).toEqual({
        "docker.io": { username: "me", password: "s3cret" },
        "ghcr.io": { identitytoken: "tok" },
      });
      const policy = imagePolicyFrom({
        RUNNER_IMAGE: "bisect-runner:latest",
        RUNNER_IMAGE_ALLOW: ["docker.io/library/*"],
        RUNNER_REGISTRY_AUTH_FILE: file,
        RUNNER_IMAGE_MAX_MB: 100,
      });
      expect(policy.maxBytes).toBe(100 * 1024 * 1024);
      expect(policy.always).toEqual(["bisect-runner:latest"]);
      expect(() => loadRegistryAuth(path.join(dir, "absent.json"))).toThrow(/registry credentials/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
