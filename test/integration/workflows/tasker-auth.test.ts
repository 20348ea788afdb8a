import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { betweenSessionsTaskRequest } from '../../../src/workflows/between-sessions.ts';
import { InProcessBus } from '../../../src/workflows/bus.ts';
import { LocalRunner } from '../../../src/workflows/local-runner.ts';
import { serveRunner, type RunnerHttp } from '../../../src/workflows/runner-http.ts';
import { BETWEEN_SESSIONS_HANDLERS } from '../../../src/workflows/steps/between-sessions.ts';
import { BETWEEN_SESSIONS_TEMPLATE_PATH, loadTemplate } from '../../../src/workflows/template.ts';
import { RestTransport, SubmitNotConfirmed } from '../../../src/workflows/transport.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

/** STORYTELLER_TASKER_TOKEN: `Authorization: Bearer` on every REST call, required by the local runner when set. */
describe('Tasker REST auth against the local runner (STORYTELLER_TASKER_TOKEN)', () => {
  const TOKEN = `t-${randomUUID()}`;
  const loaded = loadTemplate(BETWEEN_SESSIONS_TEMPLATE_PATH);
  let tdb: TestDatabase;
  let graph: GraphStore;
  let runner: LocalRunner;
  let http: RunnerHttp;
  const bus = new InProcessBus();
  const request = () => betweenSessionsTaskRequest(loaded.template, { idempotencyKey: `between:auth:${randomUUID()}`, payload: { runKey: `between:auth:${randomUUID()}` } }, randomUUID());
  const transport = (token?: string) => new RestTransport({ taskerUrl: http.url, events: bus, ...(token ? { token } : {}) });

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
    graph = await openGraphStore(tdb.db, { graphStore: 'sql' });
    runner = new LocalRunner({ db: tdb.db, template: loaded, handlers: BETWEEN_SESSIONS_HANDLERS, deps: { db: tdb.db, graph }, bus: null });
    await runner.start();
    http = await serveRunner(runner, { token: loadConfig({ STORYTELLER_TASKER_TOKEN: TOKEN }).workflows.taskerToken });
  });
  afterAll(async () => {
    await http.close();
    await runner.stop();
    await tdb.close();
  });

  it('the configuration carries the token, the API key and the reconciliation delay', () => {
    const c = loadConfig({ STORYTELLER_TASKER_TOKEN: 'abc', STORYTELLER_TASKER_API_KEY: 'key', STORYTELLER_WORKFLOW_RECONCILE_AFTER_MS: '1500' });
    expect(c.workflows).toMatchObject({ taskerToken: 'abc', taskerApiKey: 'key', reconcileAfterMs: 1500 });
    expect(loadConfig({}).workflows.reconcileAfterMs).toBe(60_000);
    expect(() => loadConfig({ STORYTELLER_WORKFLOW_RECONCILE_AFTER_MS: '-1' })).toThrow(/STORYTELLER_WORKFLOW_RECONCILE_AFTER_MS/);
  });

  it('without the token, or with a wrong one, a submission is not confirmed (the relay keeps the row and backs off)', async () => {
    await expect(transport().submit(request())).rejects.toThrow(SubmitNotConfirmed);
    await expect(transport('wrong').submit(request())).rejects.toThrow(/401/);
    await expect(transport().getTask(randomUUID())).rejects.toThrow(SubmitNotConfirmed);
    expect((await tdb.db.query(`SELECT 1 FROM workflow_tasks WHERE namespace = 'storyteller'`)).rows).toHaveLength(0);
    expect((await fetch(`${http.url}/health`)).status).toBe(200);
  });

  it('with the token, the task is created and read back', async () => {
    const t = transport(TOKEN);
    const outcome = await t.submit(request());
    expect(outcome.kind).toBe('created');
    const uuid = (outcome as { taskUuid: string }).taskUuid;
    expect((await t.getTask(uuid))?.task_uuid).toBe(uuid);
    await runner.whenIdle();
    expect((await t.getTask(uuid))?.status).toBe('complete');
  });
});
