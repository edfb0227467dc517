import { makeEvent, TestStack } from '../support/stack';

/**
 * A windowed criterion ("2 bookings within a day") stops holding when its older event slides out,
 * with no new event to refold the person: the list must drop the person at that moment, also for
 * a viewer who sees everything of the person (whose entry otherwise shows the criteria as folded).
 */
describe('familiar-faces criteria with a window lapse at read time', () => {
  let stack: TestStack;
  let jail: string;
  let planner: string;
  const DAY = 86_400_000;
  const iso = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1, env: { FAMILIAR_CRITERIA: '[{"id":"frequent_booking","eventType":"booking","min":2,"withinDays":1}]' } });
    jail = await stack.createSource('county-jail', 'jail');
    planner = await stack.token('jp', 'county-jail', 'discharge_planner');
  });
  afterAll(async () => stack.close());

  const listed = async (personId: string): Promise<{ personId: string; criteria: string[] } | undefined> => {
    const res = await stack.read('/api/v1/familiar-faces', planner, 'discharge_planning').expect(200);
    return (res.body.items as { personId: string; criteria: string[] }[]).find((e) => e.personId === personId);
  };

  it('lists the person while both bookings are within the window and drops them once the first slides out', async () => {
    const subject = { recordId: 'J-7', firstName: 'Dana', lastName: 'Whitehorse', dateOfBirth: '1979-06-30' };
    // The first booking leaves the one-day window 15 s from now.
    const slidesOutAt = Date.now() + 15_000;
    await stack.sendApplied(jail, [
      makeEvent({ eventId: 'b1', type: 'booking', occurredAt: iso(-DAY + 15_000), details: { bookingNumber: 'B-1' } }, subject),
      makeEvent({ eventId: 'r1', type: 'release', occurredAt: iso(-DAY + 16_000), details: { bookingNumber: 'B-1' } }, subject),
      makeEvent({ eventId: 'b2', type: 'booking', occurredAt: iso(-3_600_000), details: { bookingNumber: 'B-2' } }, subject),
    ]);
    const id = await stack.personOf('county-jail', 'J-7');
    expect(Date.now()).toBeLessThan(slidesOutAt);
    expect((await listed(id))?.criteria).toEqual(['frequent_booking']);
    await new Promise((r) => setTimeout(r, Math.max(0, slidesOutAt - Date.now()) + 500));
    expect(await listed(id)).toBeUndefined();
    const page = await stack.read(`/api/v1/persons/${id}`, planner, 'discharge_planning').expect(200);
    expect(page.body.personId).toBe(id);
  });
});
