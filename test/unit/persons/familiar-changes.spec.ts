import { familiarChanges } from '../../../src/persons/projection.service';

describe('familiarChanges', () => {
  it('reports added, removed and updated from the familiar flag before and after', () => {
    expect(
      familiarChanges([
        { person_id: 'new-familiar', was: null, now: true, same: null },
        { person_id: 'became', was: false, now: true, same: false },
        { person_id: 'left', was: true, now: false, same: false },
        { person_id: 'deleted', was: true, now: null, same: null },
        { person_id: 'changed', was: true, now: true, same: false },
        { person_id: 'unchanged', was: true, now: true, same: true },
        { person_id: 'never', was: false, now: false, same: false },
        { person_id: 'new-other', was: null, now: false, same: null },
      ]),
    ).toEqual([
      { personId: 'new-familiar', kind: 'added' },
      { personId: 'became', kind: 'added' },
      { personId: 'left', kind: 'removed' },
      { personId: 'deleted', kind: 'removed' },
      { personId: 'changed', kind: 'updated' },
    ]);
  });
});
