import { BulkLinker } from '../../../src/linkage/backfill.linker';
import { defaultModel } from '../../../src/linkage/engine/model.params';
import { generatePopulation } from '../../../src/linkage/engine/population.generate';
import { normaliseRecord } from '../../../src/linkage/engine/record.normalise';
import { RecordScoringPool, type Demographics } from '../../../src/linkage/record-scoring.pool';

describe('RecordScoringPool (the scoring thread)', () => {
  it('answers every record, across its slices, as scoreAhead() in this thread does', async () => {
    const model = defaultModel();
    const recs = generatePopulation({ seed: 3, persons: 400 }).map((g, i): [string, Demographics] => {
      const { id: _id, ...d } = g.record;
      return [String(i + 1), d];
    });
    const seeds = recs.slice(0, 100);
    // Two batches, as two chunks: each longer than the first slice and than one full slice.
    const batches = [recs.slice(100, 500), recs.slice(500, 900)];
    const names = [{ field: 'last', value: 'GARCIA', records: 30 }];

    const local = new BulkLinker(model, () => '');
    local.setNameCounts(names);
    for (const [id, d] of seeds) local.seed(id, normaliseRecord({ ...d, id }), '', false);

    const pool = new RecordScoringPool({ model });
    try {
      await pool.seed(seeds.map(([id, d]) => [id, normaliseRecord({ ...d, id })]));
      await pool.setNameCounts(names);
      for (const batch of batches) {
        expect(batch.length).toBeGreaterThan(300);
        const at = pool.score(batch);
        for (const [i, [id, d]] of batch.entries()) expect(await at(i)).toEqual(local.scoreAhead(id, d));
      }
    } finally {
      await pool.close();
    }
  });
});
