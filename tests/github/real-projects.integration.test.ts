// Ordinary projects bisect out of the box, through the GitHub path (signed webhook → worker →
// farm on two real Docker engines → final comment): a Node project whose dependency comes from a
// real npm registry (verdaccio), a Python project whose dependency comes from a package index of
// local wheels, and a C project built with CMake and tested with ctest. Each is bisected once
// with nothing but `/bisect <good> <bad> -- <test>` (zero configuration picks the image and the
// setup) and once with a `.github/bisect.yml`. Rust and Go: real-projects-compiled.
//
// The Node and Python images are stand-ins for node:20-bookworm and python:3.12-bookworm (Debian's
// toolchains, no `safe.directory`, root as the default user) served by a real local registry
// under the same names, and pulled by the engines that run them (real-projects-fixture.ts).
import { it } from "vitest";
import { startPythonIndex, type PythonIndex } from "../helpers/python-index";
import { startVerdaccio, type NpmRegistry } from "../helpers/verdaccio";
import { cmakeProject, nodeProject, publishTinyMath, pythonProject, TINYSTATS } from "./projects";
import {
  realProjectsEngines,
  useRealProjects,
  verdaccioProblem,
  type ProjectCase,
} from "./real-projects-fixture";

const { engines, suite } = await realProjectsEngines(verdaccioProblem());

suite("real projects bisect out of the box", () => {
  let npm: NpmRegistry | undefined;
  let pypi: PythonIndex | undefined;
  const world = useRealProjects(engines, {
    standIns: ["node:20-bookworm", "python:3.12-bookworm"],
    idBase: 710_000,
    async prepare({ work, image }) {
      npm = await startVerdaccio();
      publishTinyMath(npm);
      pypi = await startPythonIndex();
      for (const [version, module] of Object.entries(TINYSTATS))
        pypi.addWheel("tinystats", version, module);

      const nodeYml = [
        `image: ${image("node:20-bookworm")}`,
        "setup: npm ci",
        "command: npm test",
        "network: true",
        "",
      ].join("\n");
      const pythonYml = [
        `image: ${image("python:3.12-bookworm")}`,
        "setup: |",
        "  python -m venv /work/.venv",
        "  . /work/.venv/bin/activate",
        "  pip install -r requirements.txt",
        "command: python -m unittest -v",
        "network: true",
        "env:",
        "  PIP_DISABLE_PIP_VERSION_CHECK: '1'",
        "",
      ].join("\n");
      const cmakeYml = [
        "setup: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build",
        "command: ctest --test-dir build --output-on-failure",
        "cache: [build]",
        "",
      ].join("\n");
      const cases: ProjectCase[] = [
        {
          name: "node-zero",
          repo: nodeProject(work, "node-zero", npm),
          comment: "/bisect v1.0.0 main -- npm test",
          ecosystem: "Node (npm)",
        },
        {
          name: "node-config",
          repo: nodeProject(work, "node-config", npm, { bisectYml: nodeYml }),
          comment: "/bisect v1.0.0 main",
        },
        {
          name: "python-zero",
          repo: pythonProject(work, "python-zero", pypi.url),
          comment: "/bisect v1.0.0 main -- python -m unittest -v",
          ecosystem: "Python",
        },
        {
          name: "python-config",
          repo: pythonProject(work, "python-config", pypi.url, { bisectYml: pythonYml }),
          comment: "/bisect v1.0.0 main",
        },
        {
          name: "cmake-zero",
          repo: cmakeProject(work, "cmake-zero"),
          comment: "/bisect v1.0.0 main -- ctest --test-dir build --output-on-failure",
          ecosystem: "C/C++ (CMake)",
          // The build directory is kept between steps with no configuration.
          cachePaths: ["build"],
        },
        {
          name: "cmake-config",
          repo: cmakeProject(work, "cmake-config", { bisectYml: cmakeYml }),
          comment: "/bisect v1.0.0 main",
          cachePaths: ["build"],
        },
      ];
      return { cases };
    },
    async stop() {
      await npm?.stop();
      await pypi?.stop();
    },
  });

  it(
    "finds each project's culprit, with zero configuration and with .github/bisect.yml",
    () => world.findsEveryCulprit(),
    1_200_000,
  );
});
