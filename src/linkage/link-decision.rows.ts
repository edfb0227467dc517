import type { CandidatePerson, Decision } from './engine/link.decide';
import type { ModelParams } from './engine/model.params';
import type { Explanation } from './engine/model.score';

export type LinkAction = 'link' | 'new' | 'review' | 'keep' | 'move' | 'split' | 'locked';

/** The record's link before this decision. */
export interface CurrentLink {
  person_id: string;
  locked: boolean;
  /** Other records are linked to the same person. */
  shared: boolean;
}

/** What one decision writes: shared by the live linker and the bulk backfill, so both store the same rows. */
export interface DecisionRows {
  personId: string;
  action: LinkAction;
  /** personId is a new person (insert it). */
  created: boolean;
  tasks: { kind: string; personIds: string[] }[];
  probability: number | null;
  weight: number | null;
  explanation: Record<string, unknown>;
}

const unp = (id: string): string => id.slice(2);

/**
 * Maps an engine decision (ids prefixed `p:`/`r:`) and the record's current link to the action,
 * person, review tasks and stored explanation. Pure: `newPersonId` makes the id of a new person.
 * On `move`, the caller retires the previous person when it is left with no records.
 */
export function decisionRows(
  prev: CurrentLink | undefined, decision: Decision, model: ModelParams, why: Explanation | undefined,
  scored: CandidatePerson[], newPersonId: () => string,
): DecisionRows {
  const target = decision.action === 'link' ? unp(decision.personId) : null;
  let personId: string;
  let action: LinkAction;
  let created = false;
  const tasks: { kind: string; personIds: string[] }[] = [];
  const newPerson = (): string => {
    created = true;
    return newPersonId();
  };

  if (!prev) {
    personId = target ?? newPerson();
    action = decision.action;
  } else if (prev.locked && target !== prev.person_id) {
    personId = prev.person_id;
    action = 'locked';
    tasks.push({ kind: 'locked_link_conflict', personIds: [prev.person_id, ...(target ? [target] : [])] });
  } else if (target === prev.person_id) {
    personId = prev.person_id;
    action = 'keep';
  } else if (target) {
    personId = target;
    action = 'move';
  } else if (!prev.shared) {
    // No longer matches anyone it is linked with: alone already, it keeps its id; otherwise it splits off.
    personId = prev.person_id;
    action = decision.action === 'review' ? 'review' : 'keep';
  } else {
    personId = newPerson();
    action = 'split';
  }

  if (decision.action === 'review') tasks.push({ kind: 'possible_match', personIds: [personId, ...decision.personIds.map(unp)] });
  if (decision.action === 'link' && decision.duplicatePersonIds.length)
    tasks.push({ kind: 'possible_duplicate_persons', personIds: [unp(decision.personId), ...decision.duplicatePersonIds.map(unp)] });
  if (decision.flags.includes('constraint_conflict')) tasks.push({ kind: 'constraint_conflict', personIds: [personId] });

  const probability = decision.action === 'new' ? (why?.probability ?? null) : decision.probability;
  const explanation = {
    decision: decision.action,
    reason: decision.reason,
    thresholds: model.thresholds,
    ...(why ? { bestMatch: { fields: why.fields, priorBits: why.priorBits, weight: why.weight, probability: why.probability, alias: why.alias ?? null, lines: why.lines } } : {}),
    candidates: scored.sort((a, b) => b.probability - a.probability).slice(0, 5).map((c) => ({ personId: unp(c.personId), probability: c.probability, records: c.recordIds.length })),
  };
  return { personId, action, created, tasks: tasks.map((t) => ({ kind: t.kind, personIds: [...new Set(t.personIds)] })), probability, weight: why?.weight ?? null, explanation };
}
