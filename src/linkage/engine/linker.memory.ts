// In-memory incremental linker: the same steps the service runs per record
// (normalise -> keys -> candidates via key index with cap -> score persons -> decide).
import { blockingKeys, DEFAULT_KEY_CAP, isCandidate, isKeyCapped } from './blocking.rules';
import { decide, type Decision, type StewardConstraints } from './link.decide';
import { scoreCandidates } from './candidate.score';
import { normaliseRecord } from './record.normalise';
import { updateTermFrequencies, emptyTermFrequencies, type TermFrequencies } from './tf.table';
import type { ModelParams } from './model.params';
import type { NormalisedRecord, RawPersonRecord } from './record.types';

export interface LinkerOptions {
  model: ModelParams;
  /** Fixed TF table, or 'incremental' to count names as records arrive (like the service). */
  tf?: TermFrequencies | 'incremental';
  keyCap?: number;
  /** Keys with at most this many records make a candidate alone (DEFAULT_SELECTIVE_KEY). */
  selectiveKey?: number;
  constraints?: StewardConstraints;
  thresholds?: { upper: number; lower: number };
}

export interface LinkOutcome {
  recordId: string;
  personId: string;
  decision: Decision;
  candidatesScored: number;
}

export class InMemoryLinker {
  private readonly records = new Map<string, NormalisedRecord>();
  private readonly personOfRecord = new Map<string, string>();
  private readonly recordsOfPerson = new Map<string, string[]>();
  private readonly keyIndex = new Map<string, string[]>();
  private readonly tf: TermFrequencies | undefined;
  private readonly incrementalTf: boolean;
  private nextPerson = 1;
  readonly outcomes: LinkOutcome[] = [];

  constructor(private readonly opts: LinkerOptions) {
    this.incrementalTf = opts.tf === 'incremental';
    this.tf = opts.tf === 'incremental' ? emptyTermFrequencies() : opts.tf;
  }

  add(input: RawPersonRecord | NormalisedRecord): LinkOutcome {
    const rec = 'schema' in input ? input : normaliseRecord(input);
    if (this.records.has(rec.id)) throw new Error(`duplicate record id ${rec.id}`);
    if (this.incrementalTf && this.tf) updateTermFrequencies(this.tf, rec);
    const keys = blockingKeys(rec);
    const cap = this.opts.keyCap ?? DEFAULT_KEY_CAP;
    // Shared usable keys per record, and the smallest of those keys (the service's candidate rule).
    const hits = new Map<string, { shared: number; smallest: number }>();
    for (const k of keys) {
      const list = this.keyIndex.get(k);
      if (!list || isKeyCapped(list.length, cap)) continue;
      for (const id of list) {
        const h = hits.get(id);
        if (h) {
          h.shared++;
          h.smallest = Math.min(h.smallest, list.length);
        } else hits.set(id, { shared: 1, smallest: list.length });
      }
    }
    const candidateIds = new Set([...hits].filter(([, h]) => isCandidate(h.shared, h.smallest, this.opts.selectiveKey)).map(([id]) => id));
    const byPerson = new Map<string, NormalisedRecord[]>();
    for (const id of candidateIds) {
      const other = this.records.get(id);
      const personId = this.personOfRecord.get(id);
      if (!other || !personId) continue;
      const list = byPerson.get(personId);
      if (list) list.push(other);
      else byPerson.set(personId, [other]);
    }
    // Only the person's records reached through keys are scored, like the service's key lookup.
    const persons = scoreCandidates(
      this.opts.model, rec, [...byPerson].map(([personId, records]) => ({ personId, records })), this.tf,
    ).map((c) => ({ ...c, recordIds: this.recordsOfPerson.get(c.personId) ?? c.recordIds }));
    const decision = decide({
      recordId: rec.id,
      candidates: persons,
      thresholds: this.opts.thresholds ?? this.opts.model.thresholds,
      constraints: this.opts.constraints,
    });
    const personId = decision.action === 'link' ? decision.personId : `P${this.nextPerson++}`;
    this.records.set(rec.id, rec);
    this.personOfRecord.set(rec.id, personId);
    const members = this.recordsOfPerson.get(personId);
    if (members) members.push(rec.id);
    else this.recordsOfPerson.set(personId, [rec.id]);
    for (const k of keys) {
      const list = this.keyIndex.get(k);
      if (list) list.push(rec.id);
      else this.keyIndex.set(k, [rec.id]);
    }
    const outcome: LinkOutcome = { recordId: rec.id, personId, decision, candidatesScored: candidateIds.size };
    this.outcomes.push(outcome);
    return outcome;
  }

  /** recordId -> personId. */
  assignments(): Map<string, string> {
    return new Map(this.personOfRecord);
  }

  personOf(recordId: string): string | undefined {
    return this.personOfRecord.get(recordId);
  }
}
