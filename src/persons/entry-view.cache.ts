import { consentActive } from '../access/access.policy';
import type { PersonState } from './person-state';

interface Cached<T> {
  registry: object;
  activeConsents: string;
  value: T;
}

/**
 * Keeps what the access policy and the masking made of one person state for one kind of viewer,
 * so a list read many times a second does not decide and mask every entry again. Exact, not a
 * time-to-live: the decision depends on the clock only through which consents are in effect, so an
 * entry is reused only for the same state object (a new fold is a new object), the same agency
 * registry object (re-read every few seconds) and the same set of consents in effect now; the
 * clock-dependent parts (consent status, criteria) are computed again by the caller. Held weakly
 * by state, so it lives as long as the parsed state in the read path's own cache.
 */
export class EntryViewCache<T> {
  private readonly byState = new WeakMap<PersonState, Map<string, Cached<T>>>();

  get(state: PersonState, viewerKey: string, registry: object, now: Date, compute: () => T): T {
    let active = '';
    for (const c of state.consents) active += consentActive(c, now) ? '1' : '0';
    let perViewer = this.byState.get(state);
    const hit = perViewer?.get(viewerKey);
    if (hit && hit.registry === registry && hit.activeConsents === active) return hit.value;
    const value = compute();
    if (!perViewer) this.byState.set(state, (perViewer = new Map<string, Cached<T>>()));
    perViewer.set(viewerKey, { registry, activeConsents: active, value });
    return value;
  }
}
