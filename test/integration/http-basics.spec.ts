import { TestStack } from '../support/stack';

describe('health and API docs', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
  });
  afterAll(async () => stack.close());

  it('answers liveness without touching dependencies', async () => {
    const res = await stack.http().get('/health/live');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('reports readiness with PostgreSQL and Redis up', async () => {
    const res = await stack.http().get('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body.info).toMatchObject({ postgres: { status: 'up' }, redis: { status: 'up' } });
  });

  it('serves an OpenAPI document generated from the DTOs', async () => {
    const res = await stack.http().get('/api/docs-json');
    expect(res.status).toBe(200);
    const doc = res.body as { paths: Record<string, unknown>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/events', '/api/v1/ingest/status', '/health/ready']));
    expect(doc.components.schemas.EventBatchDto.properties).toHaveProperty('events');
    const ui = await stack.http().get('/api/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
  });

  it('sets security headers and echoes a request id', async () => {
    const res = await stack.http().get('/health/live').set('X-Request-Id', 'req-abc-123');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['x-request-id']).toBe('req-abc-123');
    const fresh = await stack.http().get('/health/live');
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
