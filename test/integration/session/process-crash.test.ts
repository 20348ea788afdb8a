import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

/**
 * A real process death: the engine runs in a child process with STORYTELLER_FAULT set,
 * exits with code 137 at that point (nothing flushed), and an engine in this process
 * recovers the session from PostgreSQL.
 */
describe('process crash at a STORYTELLER_FAULT point (pg)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    await tdb.close();
  });

  it('the child dies at turn.afterStage2; a new engine answers the acked input exactly once and play goes on', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url))], {
      env: { ...process.env, CHILD_DATABASE_URL: tdb.url, STORYTELLER_FAULT: 'turn.afterStage2', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, err).toBe(137);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    const sessionId = lines[0]?.sessionId as string;
    expect(lines).toContainEqual({ acked: 'c-1' });
    expect(lines).not.toContainEqual({ answered: 'c-1' });

    const kit = await TestingKit.create({ db: tdb.db });
    const recovered = await kit.open(sessionId);
    const answer = await recovered.answered('c-1');
    expect(answer.text).toContain('take lamp');
    await recovered.whenIdle();
    const { rows } = await tdb.db.query<{ client_input_id: string; completed: number }>(
      `SELECT p.client_input_id, count(t.id)::int AS completed FROM event_ledger p
         LEFT JOIN event_ledger t ON t.session_id = p.session_id AND t.event_type = 'TurnCompleted' AND t.input_id = p.id
        WHERE p.session_id = $1 AND p.event_type = 'PlayerInput' GROUP BY 1 ORDER BY 1`,
      [sessionId],
    );
    expect(rows).toEqual([{ client_input_id: 'c-1', completed: 1 }]);
    expect((await recovered.play('look around', 'c-2')).text).toContain('look around');
    await kit.shutdown();
  });
});
