import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyPgDatabase } from '../../support/test-database.ts';
import { GatewaySocket } from '../../support/gateway-socket.ts';

/**
 * Two real `storyteller serve` processes on one PostgreSQL database (issue 15 §7): the
 * client plays on A; A is SIGKILLed; the client reconnects to B with its token and
 * continues: every acked input is in the ledger once and played once, B owns the session.
 */
const SECRET = 'failover-secret-of-at-least-thirty-two-chars';

describe('failover between two engine processes (pg)', () => {
  let url: string;
  let dir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    url = await createEmptyPgDatabase();
    dir = await mkdtemp(join(tmpdir(), 'storyteller-failover-'));
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts `storyteller serve` and resolves with its gateway's port (read from its banner). */
  const serveProcess = (name: string) =>
    new Promise<{ child: ChildProcess; port: number }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
        env: {
          ...process.env,
          DATABASE_URL: url,
          STORYTELLER_PORT: '0',
          STORYTELLER_GATEWAY_SECRET: SECRET,
          STORYTELLER_INSTANCE_ID: name,
          STORYTELLER_DATA_DIR: join(dir, name),
          STORYTELLER_FRAME_MODEL: 'rules',
          LOG_LEVEL: 'silent',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /open http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
        if (m) resolve({ child, port: Number(m[1]) });
      });
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening: ${out}`)));
    });

  it('A is SIGKILLed mid-game; the client moves to B and continues with nothing lost', async () => {
    const [a, b] = await Promise.all([serveProcess('engine-a'), serveProcess('engine-b')]);
    const s = await GatewaySocket.open(`ws://127.0.0.1:${a.port}/ws`);
    const ready = await s.start();
    await s.next('scene.entered');
    const one = await s.play('c-1', 'look');
    s.send({ type: 'input', clientInputId: 'c-2', text: 'ask Ewan about the light' });
    const ack2 = await s.next('ack', (x) => x.clientInputId === 'c-2');
    a.child.kill('SIGKILL');
    await s.closed;

    const s2 = await GatewaySocket.open(`ws://127.0.0.1:${b.port}/ws`);
    await s2.resume(ready.token, ready.sessionId);
    // The client resends what it has not seen answered: the original ids, played at most once.
    const unanswered = s.all('narrative.done').some((d) => d.clientInputId === 'c-2') ? [] : ['c-2'];
    for (const id of unanswered) s2.send({ type: 'input', clientInputId: id, text: 'ask Ewan about the light' });
    if (unanswered.length > 0) {
      const again = await s2.next('ack', (x) => x.clientInputId === 'c-2');
      expect(again).toMatchObject({ inputId: ack2.inputId, turn: 2, duplicate: true });
    }
    const three = await s2.play('c-3', 'go to the inn');
    expect(three.ack.turn).toBe(3);
    expect(three.done.text).toContain('Drowned Bell');

    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const inputs = await db.query<{ id: string; client_input_id: string }>(
        `SELECT id, client_input_id FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput' ORDER BY narrative_ts`,
        [ready.sessionId],
      );
      expect(inputs.rows.map((r) => r.client_input_id)).toEqual(['c-1', 'c-2', 'c-3']);
      expect(inputs.rows.map((r) => Number(r.id))).toEqual([one.ack.inputId, ack2.inputId, three.ack.inputId]);
      const completed = async () =>
        (await db.query<{ input_id: string }>(`SELECT event_data->>'inputId' AS input_id FROM event_ledger WHERE session_id = $1 AND event_type = 'TurnCompleted'`, [ready.sessionId])).rows
          .map((r) => Number(r.input_id))
          .sort((x, y) => x - y);
      // Each input played exactly once (c-2's turn re-run by B after A died).
      await expect.poll(completed, { timeout: 20_000 }).toEqual([one.ack.inputId, ack2.inputId, three.ack.inputId]);
      const owner = await db.query<{ owner_instance: string }>('SELECT owner_instance FROM sessions WHERE id = $1', [ready.sessionId]);
      expect(owner.rows[0]?.owner_instance).toBe('engine-b');
    } finally {
      await db.end();
    }
    s2.ws.close();
    b.child.kill('SIGTERM');
    await new Promise((r) => b.child.once('exit', r));
  });
});
