interface Cached {
  registry: object;
  until: number;
  criteria: string[];
}

/**
 * The criteria a viewer may see a person meet, kept per cached entry view (EntryViewCache hands
 * out one immutable view object per state, viewer kind, registry and consents in effect). Exact,
 * not a time-to-live: an answer is reused only for the same view and agency registry objects and
 * only before `until`, the first instant a window boundary can change it (criteriaStableUntil).
 */
export class VisibleCriteriaCache {
  private readonly byView = new WeakMap<object, Cached>();

  get(view: object, registry: object, now: Date, compute: () => { criteria: string[]; until: number }): string[] {
    const hit = this.byView.get(view);
    if (hit && hit.registry === registry && now.getTime() < hit.until) return hit.criteria;
    const { criteria, until } = compute();
    this.byView.set(view, { registry, until, criteria });
    return criteria;
  }
}
