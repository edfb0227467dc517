import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { LocalIssuerService } from '../../src/access/local-issuer.service';
import { createHttpApp } from '../../src/app/bootstrap';
import { makeEvent, TestStack, waitFor } from '../support/stack';

interface SseEvent {
  id?: string;
  event: string;
  data: { personId: string; entry?: { openNeeds: string[]; agencies: string[] } };
}

interface SseClient {
  events: SseEvent[];
  status: Promise<number>;
  close(): void;
}

/** A minimal EventSource: parses `id:`, `event:` and `data:` lines into events. */
function connect(port: number, token: string, lastEventId?: string): SseClient {
  const events: SseEvent[] = [];
  let buf = '';
  let resolveStatus: (n: number) => void = () => undefined;
  const status = new Promise<number>((r) => (resolveStatus = r));
  const req = http.get(
    {
      host: '127.0.0.1', port, path: '/api/v1/familiar-faces/stream',
      headers: {
        Authorization: `Bearer ${token}`, 'X-Purpose-Of-Use': 'care_coordination', Accept: 'text/event-stream',
        ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}),
      },
    },
    (res) => {
      resolveStatus(res.statusCode ?? 0);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: Partial<SseEvent> & { raw?: string } = {};
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6)) as SseEvent['data'];
          }
          if (e.event) events.push(e as SseEvent);
        }
      });
    },
  );
  req.on('error', () => undefined);
  return { events, status, close: () => req.destroy() };
}

describe('familiar-faces stream (SSE over a Redis stream)', () => {
  let stack: TestStack;
  let second: NestExpressApplication;
  let port1: number;
  let port2: number;
  let jail: string;
  let court: string;
  let clinic: string;
  let jailManager: string;
  let clinicManager: string;
  const clients: SseClient[] = [];

  const send = (key: string, events: Record<string, unknown>[]): Promise<void> => stack.sendApplied(key, events);

  const personOf = (source: string, recordId: string): Promise<string> => stack.personOf(source, recordId);

  function open(port: number, token: string, lastEventId?: string): SseClient {
    const c = connect(port, token, lastEventId);
    clients.push(c);
    return c;
  }

  const hours = (h: number): string => new Date(Date.now() - h * 3600_000).toISOString();
  const ana = { recordId: 'J-1', firstName: 'Ana', lastName: 'Tsosie', dateOfBirth: '1985-05-17', ssn: '528-61-4407' };
  const ben = { firstName: 'Benjamin', lastName: 'Ortiz', dateOfBirth: '1979-08-21', ssn: '618-27-3390' };

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    jail = await stack.createSource('county-jail', 'jail');
    court = await stack.createSource('county-court', 'court');
    clinic = await stack.createSource('bh-clinic', 'provider');
    const issuer = stack.api!.get(LocalIssuerService);
    jailManager = await issuer.mint({ sub: 'jm', agency: 'county-jail', roles: ['case_manager'], ttlSeconds: 3600 });
    clinicManager = await issuer.mint({ sub: 'km', agency: 'bh-clinic', roles: ['case_manager'], ttlSeconds: 3600 });
    await stack.api!.listen(0, '127.0.0.1');
    port1 = (stack.api!.getHttpServer().address() as AddressInfo).port;
    // A second API process on the same Redis and database (a load balancer would spread clients).
    second = await createHttpApp('api');
    await second.listen(0, '127.0.0.1');
    port2 = (second.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await second.close();
    await stack.close();
  });

  it('pushes added and updated entries to clients of every API process', async () => {
    const a = open(port1, jailManager);
    const b = open(port2, jailManager);
    expect(await a.status).toBe(200);
    expect(await b.status).toBe(200);
    await send(jail, [makeEvent({ type: 'booking', occurredAt: hours(5), details: { bookingNumber: 'B-1' } }, ana)]);
    await send(court, [makeEvent({ type: 'court_case', occurredAt: hours(4), details: { caseNumber: 'CR-1' } }, { ...ana, recordId: 'C-1' })]);
    const id = await personOf('county-jail', 'J-1');
    for (const c of [a, b]) await waitFor(async () => c.events.find((e) => e.event === 'added' && e.data.personId === id), 10_000, 'added');
    await send(jail, [makeEvent({ type: 'need_opened', occurredAt: hours(3), details: { needId: 'N-1', category: 'housing' } }, ana)]);
    for (const c of [a, b]) {
      const e = await waitFor(async () => c.events.find((x) => x.event === 'updated' && x.data.personId === id), 10_000, 'updated');
      expect(e.data.entry!.openNeeds).toEqual(['housing']);
      expect(e.id).toMatch(/^\d+-\d+$/);
    }
  });

  it('filters per viewer: another agency\'s stream carries only the people it may see', async () => {
    const k = open(port2, clinicManager);
    expect(await k.status).toBe(200);
    const ana_ = await personOf('county-jail', 'J-1');
    await send(jail, [makeEvent({ type: 'need_opened', occurredAt: hours(2), details: { needId: 'N-2', category: 'medical' } }, ana)]);
    // Then a person the clinic does see; the stream is in order, so once it arrives Ana's change has been passed over.
    await send(clinic, [makeEvent({ occurredAt: hours(2) }, { ...ben, recordId: 'K-1' })]);
    await send(court, [makeEvent({ occurredAt: hours(2) }, { ...ben, recordId: 'C-2' })]);
    const benId = await personOf('bh-clinic', 'K-1');
    await waitFor(async () => k.events.find((e) => e.data.personId === benId), 10_000, 'the clinic\'s person');
    expect(k.events.filter((e) => e.data.personId === ana_)).toEqual([]);
  });

  it('sends removed when a person leaves the list', async () => {
    const a = open(port1, jailManager);
    expect(await a.status).toBe(200);
    const id = await personOf('county-jail', 'J-1');
    // The court's record is expunged: Ana is known to one agency only and leaves the list.
    await send(court, [makeEvent({ type: 'record_expunged', occurredAt: hours(1), details: {} }, { ...ana, recordId: 'C-1' })]);
    const e = await waitFor(async () => a.events.find((x) => x.event === 'removed' && x.data.personId === id), 10_000, 'removed');
    expect(e.data).toEqual({ personId: id });
  });

  it('resumes from Last-Event-ID with no gap', async () => {
    const a = open(port1, jailManager);
    expect(await a.status).toBe(200);
    await send(court, [makeEvent({ occurredAt: hours(1) }, { ...ana, recordId: 'C-9' })]);
    const id = await personOf('county-jail', 'J-1');
    const first = await waitFor(async () => a.events.find((x) => x.data.personId === id && x.event === 'added'), 10_000, 'added again');
    a.close();
    // Changes while disconnected.
    await send(jail, [makeEvent({ type: 'need_opened', occurredAt: hours(0.5), details: { needId: 'N-3', category: 'food' } }, ana)]);
    await send(jail, [makeEvent({ type: 'need_closed', occurredAt: hours(0.4), details: { needId: 'N-3' } }, ana)]);
    const missed = (await stack.redis.xrange(`${stack.prefix}:familiar-faces`, `(${first.id}`, '+')).map(([sid]) => sid);
    expect(missed.length).toBeGreaterThanOrEqual(2);
    const again = open(port2, jailManager, first.id);
    expect(await again.status).toBe(200);
    await waitFor(async () => again.events.some((e) => e.id === missed[missed.length - 1]), 10_000, 'the backlog');
    // Every entry after the resume point that concerns Ana, in order, none before it.
    const expected = [];
    for (const sid of missed) {
      const [[, fields]] = await stack.redis.xrange(`${stack.prefix}:familiar-faces`, sid, sid);
      if (fields[fields.indexOf('personId') + 1] === id) expected.push(sid);
    }
    expect(again.events.filter((e) => e.data.personId === id).map((e) => e.id)).toEqual(expected);
    // And it keeps following live changes after the backlog.
    await send(jail, [makeEvent({ type: 'need_opened', occurredAt: hours(0.3), details: { needId: 'N-4', category: 'legal' } }, ana)]);
    await waitFor(async () => again.events.find((e) => e.data.entry?.openNeeds.includes('legal')), 10_000, 'live after resume');
  });

  it('rejects a malformed Last-Event-ID naming the header', async () => {
    const res = await stack.http().get('/api/v1/familiar-faces/stream')
      .set('Authorization', `Bearer ${jailManager}`).set('X-Purpose-Of-Use', 'care_coordination').set('Last-Event-ID', 'yesterday');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('Last-Event-ID');
  });
});
