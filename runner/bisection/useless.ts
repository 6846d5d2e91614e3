// Which runs in flight can no longer matter: pure, so any driver (this process's loop, the farm's
// advance task) can stop them and reuse their slots.
import { decide as engineDecide } from "../engine/engine";
import type { Decision, EngineInput, Sha } from "../engine/types";

/**
 * The commits among `input.inFlight` whose verdict cannot change the engine's view: with `runs`
 * more results of either verdict the decision keeps the same kind, outcome and candidate count
 * (or becomes a `flaky` contradiction, i.e. only a wrong result could change it). Typically a commit
 * above a known bad or below a known good, probed before that verdict arrived.
 * Costs two `decide` calls per distinct commit in flight.
 */
export function uselessInFlight(
  input: Omit<EngineInput, "slots">,
  decide: (input: EngineInput) => Decision = engineDecide,
  base?: Decision,
): Sha[] {
  const signature = (d: Decision) =>
    d.kind === "done" ? `done:${d.outcome}:${d.candidates.length}` : `open:${d.candidates}`;
  const baseSig = signature(base ?? decide({ ...input, slots: 0 }));
  const useless: Sha[] = [];
  for (const sha of new Set(input.inFlight)) {
    const others = input.inFlight.filter((s) => s !== sha);
    const matters = (["good", "bad"] as const).some((verdict) => {
      const hypothetical = decide({
        graph: input.graph,
        policy: input.policy,
        observations: [
          ...input.observations,
          ...Array.from({ length: input.policy.runs }, () => ({ sha, verdict })),
        ],
        inFlight: others,
        slots: 0,
      });
      if (hypothetical.kind === "done" && hypothetical.outcome === "flaky") return false;
      return signature(hypothetical) !== baseSig;
    });
    if (!matters) useless.push(sha);
  }
  return useless;
}
