// Multi-section probe choice: which fresh candidates split the candidate set into equal parts, given those already being tested.

export interface SelectInput {
  /** |C|. Weights lie in 1..size. */
  size: number;
  /** Weights of candidates already occupying a point (in flight, partly run or retried). */
  occupied: readonly number[];
  /** Fresh candidates: weights and a tie-break rank (lower wins), same length. */
  freshWeights: ArrayLike<number>;
  freshRank: ArrayLike<number>;
  /** How many fresh candidates to choose. */
  count: number;
  /** Weights of skipped candidates (untestable): probes move away from them. */
  avoid?: ArrayLike<number>;
}

/**
 * Chooses up to `count` fresh candidates, returned as indexes into `freshWeights`, by ascending
 * weight. The points already occupied cut [0, size] into gaps; new points go one at a time to
 * the gap whose parts would stay largest (gap / (points + 1)), ties to the lower gap. Inside a gap
 * with p new points the targets are evenly spaced; each target takes the unchosen fresh candidate
 * whose weight is closest (ties: lower weight, then lower rank). With nothing occupied this is
 * "weights closest to i·|C|/(k+1), i = 1..k".
 *
 * Skipped candidates (`avoid`): untestable commits come in stretches (a broken build spans
 * several commits), so trying the neighbours of a skipped commit one by one wastes runs. With
 * skipped candidates in C, every pick moves away
 * from the skipped ones (as git bisect's skip_away does, but deterministically and knowing that
 * stretches are contiguous; see `moveAway`), at the price of a less even split.
 */
export function selectCandidates(input: SelectInput): number[] {
  const { size, freshWeights, freshRank } = input;
  const nFresh = freshWeights.length;
  const count = Math.min(input.count, nFresh);
  if (count <= 0) return [];

  const cuts = [0, ...[...input.occupied].sort((a, b) => a - b), size];
  const gaps: { from: number; len: number; points: number }[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    gaps.push({ from: cuts[i]!, len: cuts[i + 1]! - cuts[i]!, points: 0 });
  }
  for (let k = 0; k < count; k++) {
    let best = 0;
    for (let i = 1; i < gaps.length; i++) {
      if (gaps[i]!.len / (gaps[i]!.points + 1) > gaps[best]!.len / (gaps[best]!.points + 1))
        best = i;
    }
    gaps[best]!.points++;
  }
  const targets: number[] = [];
  for (const gap of gaps) {
    for (let t = 1; t <= gap.points; t++) targets.push(gap.from + (gap.len * t) / (gap.points + 1));
  }

  // Fresh candidates sorted by (weight, rank).
  const order = sortByWeightThenRank(freshWeights, freshRank, size);
  const sortedW = new Float64Array(nFresh);
  for (let i = 0; i < nFresh; i++) sortedW[i] = freshWeights[order[i]!]!;
  const taken = new Uint8Array(nFresh);
  const chosen: number[] = [];
  const avoid = Array.from(input.avoid ?? []).sort((a, b) => a - b);
  /**
   * Untestable commits come in stretches: a fresh candidate between two skipped ones (in weight
   * order) is almost surely untestable too, one between a skipped and a testable one (the good
   * boundary at 0, the lowest bad at `size`) is likelier testable the farther it is from the
   * skipped side. Class = number of skipped nearest neighbours; cost = distance to the target
   * (as a share of |C|) plus, for class 1, how far it lies inside the half of its gap next to
   * the skipped side.
   */
  const moveAway = (t: number): number => {
    let best = -1;
    let bestClass = 3;
    let bestCost = Infinity;
    for (let i = 0; i < nFresh; i++) {
      if (taken[i]) continue;
      const w = sortedW[i]!;
      let lo = 0;
      let hi = avoid.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (avoid[mid]! < w) lo = mid + 1;
        else hi = mid;
      }
      const below = lo > 0 ? avoid[lo - 1]! : null;
      const above = lo < avoid.length ? avoid[lo]! : null;
      const cls = (below !== null ? 1 : 0) + (above !== null ? 1 : 0);
      let cost = Math.abs(w - t) / size;
      if (cls === 1) {
        const from = below ?? 0;
        const to = above ?? size;
        const span = Math.max(1, to - from);
        const fromSkipped = below !== null ? w - below : above! - w;
        cost += Math.max(0, 0.5 - fromSkipped / span);
      }
      if (cls < bestClass || (cls === bestClass && cost < bestCost)) {
        best = i;
        bestClass = cls;
        bestCost = cost;
      }
    }
    return best;
  };

  for (const t of targets) {
    // First position with weight ≥ t.
    let lo = 0;
    let hi = nFresh;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sortedW[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    let left = lo - 1;
    while (left >= 0 && taken[left]) left--;
    let right = lo;
    while (right < nFresh && taken[right]) right++;
    // For the lower side, prefer the lowest-ranked among equal weights.
    if (left >= 0) {
      const w = sortedW[left]!;
      let l = left;
      while (l - 1 >= 0 && sortedW[l - 1] === w) {
        l--;
      }
      while (taken[l]) l++;
      left = l;
    }
    let pick = -1;
    if (left >= 0 && right < nFresh) {
      pick = t - sortedW[left]! <= sortedW[right]! - t ? left : right;
    } else if (left >= 0) pick = left;
    else if (right < nFresh) pick = right;
    if (pick < 0) break;
    if (avoid.length > 0) {
      pick = moveAway(t);
      if (pick < 0) break;
    }
    taken[pick] = 1;
    chosen.push(order[pick]!);
  }
  chosen.sort((a, b) => freshWeights[a]! - freshWeights[b]! || freshRank[a]! - freshRank[b]!);
  return chosen;
}

/**
 * Indexes 0..n-1 ordered by (weight, rank). Weights are integers in 0..size and ranks usually
 * ascend already (the engine passes range order): then a stable counting sort does it in linear
 * time, which matters with a million fresh candidates; otherwise a comparison sort.
 */
export function sortByWeightThenRank(
  weights: ArrayLike<number>,
  rank: ArrayLike<number>,
  size: number,
): Int32Array {
  const n = weights.length;
  let counting = Number.isInteger(size) && size >= 0 && size <= 4 * n + 1024;
  for (let i = 0; i < n && counting; i++) {
    const w = weights[i]!;
    counting = Number.isInteger(w) && w >= 0 && w <= size && (i === 0 || rank[i - 1]! <= rank[i]!);
  }
  if (!counting) {
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => weights[a]! - weights[b]! || rank[a]! - rank[b]!);
    return Int32Array.from(order);
  }
  const first = new Int32Array(size + 2);
  for (let i = 0; i < n; i++) first[weights[i]! + 1]!++;
  for (let w = 1; w <= size + 1; w++) first[w]! += first[w - 1]!;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[first[weights[i]!]!++] = i;
  return order;
}
