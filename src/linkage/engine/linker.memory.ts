// In-memory incremental linker: the same steps the service runs per record
// (normalise -> keys -> candidates via key index with cap -> score persons -> decide).
import { addKeyHit, blockingKeys, DEFAULT_KEY_CAP, isKeyCapped, pickCandidates, type KeyHits } from './blocking.rules';
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
  /** Most candidate records scored per link (DEFAULT_CANDIDATE_LIMIT). */
  candidateLimit?: number;
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
  /** Arrival order, the ties of pickCandidates (the service breaks them by record id). */
  private readonly arrival = new Map<string, number>();
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
    // Shared usable keys per record (the service's candidate rule and limit).
    const hits = new Map<string, KeyHits>();
    for (const k of keys) {
      const list = this.keyIndex.get(k);
      if (!list || isKeyCapped(list.length, cap)) continue;
      for (const id of list) addKeyHit(hits, id, list.length);
    }
    const candidateIds = pickCandidates(hits, (a, b) => this.arrival.get(a)! - this.arrival.get(b)!, this.opts.selectiveKey, this.opts.candidateLimit);
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
    this.arrival.set(rec.id, this.arrival.size);
    this.personOfRecord.set(rec.id, personId);
    const members = this.recordsOfPerson.get(personId);
    if (members) members.push(rec.id);
    else this.recordsOfPerson.set(personId, [rec.id]);
    for (const k of keys) {
      const list = this.keyIndex.get(k);
      if (list) list.push(rec.id);
      else this.keyIndex.set(k, [rec.id]);
    }
    const outcome: LinkOutcome = { recordId: rec.id, personId, decision, candidatesScored: candidateIds.length };
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
