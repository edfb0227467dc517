import { neutralForUnseen } from '../../../src/linkage/engine/tf.table';
import { defaultModel } from '../../../src/linkage/engine/model.params';
import { scorePair } from '../../../src/linkage/engine/model.score';
import { normaliseRecord } from '../../../src/linkage/engine/record.normalise';
import type { TermFrequencies } from '../../../src/linkage/engine/tf.table';

const a = normaliseRecord({ id: '1', firstName: 'Diane', lastName: 'Smith' });
const b = normaliseRecord({ id: '2', firstName: 'Diane', lastName: 'Smith' });
const tfBits = (tf: TermFrequencies): number[] =>
  scorePair(defaultModel(), a, b, tf).fields.filter((f) => f.field === 'firstName' || f.field === 'lastName').map((f) => Number(/tf ([+-][\d.]+)/.exec(f.detail ?? '')?.[1] ?? 0));

describe('names the background recount has not seen', () => {
  it('would otherwise count as the rarest names and earn the largest boost', () => {
    const stale: TermFrequencies = { firstName: { total: 50_000, counts: {} }, lastName: { total: 50_000, counts: {} } };
    expect(tfBits(stale).every((bits) => bits > 1)).toBe(true);
  });

  it('get no term-frequency adjustment', () => {
    const tf = neutralForUnseen({ firstName: { total: 50_000, counts: {} }, lastName: { total: 50_000, counts: {} } }, a, defaultModel());
    expect(tfBits(tf).map((bits) => Math.abs(bits) < 0.01)).toEqual([true, true]);
  });

  it('leave counted names alone: a common surname still weakens the match', () => {
    const tf = neutralForUnseen({ firstName: { total: 50_000, counts: {} }, lastName: { total: 50_000, counts: { smith: 2_000 } } }, a, defaultModel());
    const [first, last] = tfBits(tf);
    expect(Math.abs(first)).toBeLessThan(0.01);
    expect(last).toBeLessThan(-1);
  });
});
