// What a run may reach, as a repository or a command line asks for it:
//
//   none   no network in the setup nor in the test
//   setup  the setup (dependency install, build) reaches the network; the test has none
//   all    setup and test reach the network (the test only where the operator allows it)
//
// In `.github/bisect.yml`, `true` means all and `false` none.

export const NETWORK_POLICIES = ["none", "setup", "all"] as const;
export type NetworkPolicy = (typeof NETWORK_POLICIES)[number];

export const NETWORK_CHOICES = "none, setup or all (true = all, false = none)";

/** A policy from bisect.yml or a flag; undefined when the value is none of the forms. */
export function parseNetworkPolicy(value: unknown): NetworkPolicy | undefined {
  if (value === true) return "all";
  if (value === false) return "none";
  return NETWORK_POLICIES.find((p) => p === value);
}

/** The switches of a run for a policy (a run spec's, a job's options). */
export function networkSwitches(policy: NetworkPolicy): {
  network: boolean;
  setupNetwork: boolean;
} {
  return { network: policy === "all", setupNetwork: policy !== "none" };
}

/** The policy back from a run's switches (the reproduce block, the status comment). */
export function networkPolicyOf(o: { network?: boolean; setupNetwork?: boolean }): NetworkPolicy {
  return o.network ? "all" : o.setupNetwork ? "setup" : "none";
}
