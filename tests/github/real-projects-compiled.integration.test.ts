// Compiled projects bisect out of the box, through the GitHub path as in real-projects: a Rust
// crate whose dependency is vendored (`cargo vendor`'s directory source, built offline with
// `--locked`) and a Go module whose dependency comes from a Go module proxy (a directory of the
// GOPROXY protocol's files served by a real static HTTP server). Each is bisected once with
// nothing but `/bisect <good> <bad> -- <test>` and once with a `.github/bisect.yml`.
//
// Where the Go proxy is: with zero configuration, the operator's ecosystem table gives the Go
// rule `env: { GOPROXY }` (as an operator would name a company proxy); with bisect.yml, its
// `env:` does. go.sum is complete, so no checksum database is asked; the setup downloads the
// modules (`go mod download`, with network) and the test runs offline on the module cache.
// The Rust crate needs no network at all: its bisect.yml runs everything offline.
import { it } from "vitest";
import { startGoProxy, type GoProxy } from "../helpers/go-proxy";
import { goProject, MONEY, MONEY_MODULE, rustProject } from "./projects";
import { realProjectsEngines, useRealProjects, type ProjectCase } from "./real-projects-fixture";

const { engines, suite } = await realProjectsEngines();

suite("compiled projects (Rust, Go) bisect out of the box", () => {
  let proxy: GoProxy | undefined;
  const world = useRealProjects(engines, {
    standIns: ["rust:1-bookworm", "golang:1-bookworm"],
    idBase: 720_000,
    async prepare({ work, image }) {
      proxy = await startGoProxy();
      const sums = Object.fromEntries(
        Object.entries(MONEY).map(([v, files]) => [v, proxy!.addModule(MONEY_MODULE, v, files)]),
      );
      const rustYml = [
        `image: ${image("rust:1-bookworm")}`,
        "setup: cargo build --offline --locked",
        "command: cargo test --offline --locked",
        "env:",
        "  CARGO_TERM_COLOR: never",
        "",
      ].join("\n");
      const goYml = [
        `image: ${image("golang:1-bookworm")}`,
        "network: setup",
        "setup: go mod download",
        "command: go test ./...",
        "env:",
        `  GOPROXY: ${proxy.url}`,
        "",
      ].join("\n");
      const cases: ProjectCase[] = [
        {
          name: "rust-zero",
          repo: rustProject(work, "rust-zero"),
          comment: "/bisect v1.0.0 main -- cargo test --offline --locked",
          ecosystem: "Rust",
          // target/ is kept between steps with no configuration.
          cachePaths: ["target"],
        },
        {
          name: "rust-config",
          repo: rustProject(work, "rust-config", { bisectYml: rustYml }),
          comment: "/bisect v1.0.0 main",
          env: { CARGO_TERM_COLOR: "never" },
        },
        {
          name: "go-zero",
          repo: goProject(work, "go-zero", sums),
          comment: "/bisect v1.0.0 main -- go test ./...",
          ecosystem: "Go",
          env: { GOPROXY: proxy.url },
        },
        {
          name: "go-config",
          repo: goProject(work, "go-config", sums, { bisectYml: goYml }),
          comment: "/bisect v1.0.0 main",
          env: { GOPROXY: proxy.url },
        },
      ];
      // The operator's Go module proxy, for projects without configuration.
      return { cases, env: { Go: { GOPROXY: proxy.url } } };
    },
    async stop() {
      await proxy?.stop();
    },
  });

  it(
    "finds each project's culprit, with zero configuration and with .github/bisect.yml",
    () => world.findsEveryCulprit(),
    1_200_000,
  );
});
