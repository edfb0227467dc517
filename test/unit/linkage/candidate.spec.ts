import { scoreCandidates } from '../../../src/linkage/engine/candidate.score';
import { decide } from '../../../src/linkage/engine/link.decide';
import { defaultModel } from '../../../src/linkage/engine/model.params';
import { parseLabelsTsv, precisionRecallTable, scoreLabelledPairs } from '../../../src/linkage/engine/eval.metrics';
import { norm } from './data.helper';

const model = defaultModel();
const incoming = norm({ id: 'in', firstName: 'Jesus', lastName: 'Ortiz', dateOfBirth: '1979-02-14', ssn: '219-09-9998' });
const p1 = [
  norm({ id: 'a1', firstName: 'Chuy', lastName: 'Ortiz', dateOfBirth: '1979-02-14' }),
  norm({ id: 'a2', firstName: 'Jesus', lastName: 'Ortiz', ssn: '219099998' }),
];
const p2 = [norm({ id: 'b1', firstName: 'Maria', lastName: 'Ortiz', dateOfBirth: '1981-07-01' })];

describe('scoreCandidates', () => {
  it('scores a person by its best record and sorts persons best first', () => {
    const c = scoreCandidates(model, incoming, [{ personId: 'P2', records: p2 }, { personId: 'P1', records: p1 }]);
    expect(c.map((x) => x.personId)).toEqual(['P1', 'P2']);
    expect(c[0].recordIds).toEqual(['a1', 'a2']);
    expect(c[0].weight).toBe(Math.max(...c[0].recordIds.map((id) => scoreCandidates(model, incoming, [{ personId: 'x', records: p1.filter((r) => r.id === id) }])[0].weight)));
    expect(c[0].best.weight).toBe(c[0].weight);
    expect(decide({ recordId: 'in', candidates: c, thresholds: model.thresholds })).toMatchObject({ action: 'link', personId: 'P1' });
  });
});

describe('scoreLabelledPairs', () => {
  it('scores labelled pairs and reports unknown ids', () => {
    const records = new Map([incoming, ...p1, ...p2].map((r) => [r.id, r]));
    const labels = parseLabelsTsv('a\tb\tmatch\nin\ta1\t1\nin\tb1\t0\nin\tzz\t1\n');
    const { scored, unknownRecordIds } = scoreLabelledPairs(model, records, labels.pairs);
    expect(unknownRecordIds).toEqual(['zz']);
    expect(scored).toHaveLength(2);
    const [row] = precisionRecallTable(scored, [0.95]);
    expect(row).toMatchObject({ precision: 1, recall: 1 });
  });
});
