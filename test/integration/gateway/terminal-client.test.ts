import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playRemote } from '../../../src/cli/remote-play.ts';
import { PlayerClient } from '../../../src/gateway/player-client.ts';
import { startGateway, type Gateway } from '../../../src/gateway/server.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import type { ServerFrame } from '../../../src/gateway/protocol.ts';
import { realClocks } from '../../../src/engine/clock.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createMinimalBehaviour } from '../../../src/testing/minimal-behaviour.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { TcpFront } from '../../support/tcp-front.ts';
import { textSink } from '../../support/text-sink.ts';

/**
 * `storyteller play --url`: the terminal over the protocol with the web client's
 * buffering. The gateway goes away mid-game (the TCP front refuses connections); a line
 * typed meanwhile is kept and sent on reconnect; each input reaches the ledger once.
 */
describe('terminal client over the protocol (pg)', () => {
  let tdb: TestDatabase;
  let kit: TestingKit;
  let dir: string;
  const tokens = new TokenSigner('terminal-secret-of-at-least-thirty-two-chars');
  const front = new TcpFront();
  let gateway: Gateway | null = null;

  const boot = async () => {
    gateway = await startGateway({ engine: kit.engine, db: tdb.db, tokens, defaultStoryId: 'minimal', staticDir: null });
    await front.start(gateway.port);
  };

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
    // One endless scene: the sixty-line test plays past the minimal story's end.
    kit = await TestingKit.create({ db: tdb.db, behaviour: createMinimalBehaviour({ scenes: [{ key: 'harbour', cast: ['mara'], next: null, exitAtTurn: 1_000_000 }] }) });
    dir = await mkdtemp(join(tmpdir(), 'storyteller-remote-'));
    // Fix the front's port now, so each test also runs alone (-t) with the gateway down first.
    await front.start(1);
    await front.stop();
  });
  afterAll(async () => {
    await front.stop();
    await gateway?.close();
    await kit.shutdown();
    await tdb.close();
    await rm(dir, { recursive: true, force: true });
  });

  const untilLine = (client: PlayerClient, state: string, n: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (client.store.lines.filter((l) => l.state === state).length >= n) {
          client.events.off('line', check);
          resolve();
        }
      };
      client.events.on('line', check);
      check();
    });

  it('keeps a line typed while the gateway is down, sends it on reconnect, and resumes the same game next time', async () => {
    await boot();
    const input = new PassThrough();
    const sink = textSink();
    const output = sink.stream;
    const storePath = join(dir, 'store.json');
    let client!: PlayerClient;
    const run = playRemote({ url: `ws://127.0.0.1:${front.port}/ws`, storePath, input, output, backoffMaxMs: 200, onClient: (c) => (client = c) });
    input.write('hello there\n');
    await untilLine(client, 'answered', 1);

    await front.stop();
    await gateway?.close();
    gateway = null;
    await new Promise<void>((resolve) => client.events.once('status', (s) => s === 'offline' && resolve()));
    input.write('typed while down\n');
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(client.store.lines.map((l) => [l.text, l.state])).toEqual([
      ['hello there', 'answered'],
      ['typed while down', 'pending'],
    ]);
    await client.persisted();
    const stored = JSON.parse(await readFile(storePath, 'utf8')) as { lines: Array<{ text: string }> };
    expect(stored.lines.map((l) => l.text)).toContain('typed while down');

    await boot();
    await untilLine(client, 'answered', 2);
    input.end();
    await run;
    const sessionId = client.store.sessionId as string;
    const rows = await tdb.db.query<{ text: string }>(
      `SELECT event_data->>'text' AS text FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput' ORDER BY narrative_ts`,
      [sessionId],
    );
    expect(rows.rows.map((r) => r.text)).toEqual(['hello there', 'typed while down']);
    const text = sink.text();
    expect(text).toContain('You: "hello there"');
    expect(text.indexOf('typed while down"')).toBeGreaterThan(text.indexOf('You: "hello there"'));
    expect(text).toContain('(offline — reconnecting');

    // A second run with the same store resumes the same session.
    const input2 = new PassThrough();
    let again!: PlayerClient;
    const done = playRemote({ url: `ws://127.0.0.1:${front.port}/ws`, storePath, input: input2, output, onClient: (c) => (again = c) });
    await new Promise<void>((resolve) => again.events.once('status', function ready(s: string) {
      if (s === 'ready') resolve();
      else again.events.once('status', ready);
    }));
    expect(again.store.sessionId).toBe(sessionId);
    input2.end('one more\n');
    await done;
    expect(again.store.lines.at(-1)).toMatchObject({ text: 'one more', state: 'answered' });
  });

  const ledgerOrder = async (sessionId: string) =>
    (
      await tdb.db.query<{ client_input_id: string }>(
        `SELECT client_input_id FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput' ORDER BY narrative_ts`,
        [sessionId],
      )
    ).rows.map((r) => r.client_input_id);

  it('sixty lines typed offline go out paced below the announced rate (at most 16 unacked): all answered once, in order, none refused', async () => {
    await front.stop();
    await gateway?.close();
    gateway = null;
    const client = new PlayerClient({ url: `ws://127.0.0.1:${front.port}/ws`, backoffMaxMs: 100 });
    const refused: string[] = [];
    client.events.on('frame', (f: ServerFrame) => {
      if (f.type === 'error') refused.push(f.code);
    });
    await client.start();
    const ids = Array.from({ length: 60 }, (_, i) => client.input(`line ${i + 1}`));
    await boot();
    await untilLine(client, 'answered', 60);
    expect(await ledgerOrder(client.store.sessionId as string)).toEqual(ids);
    // The client paces itself from welcome.rate: the server never had to refuse a frame.
    expect(refused).toEqual([]);
    await client.close();
    // Sixty paced turns (16/s): some seconds, more on a loaded 2-core machine.
  }, 240_000);

  it('a line refused with RATE_LIMITED while connected is sent again after a pause, in order, on the same connection (never dropped)', async () => {
    await front.stop();
    await gateway?.close();
    // The rate limiter reads this clock: frozen, so the burst runs out for sure; each refusal the
    // client sees moves it on a second (20 frames), so the client's retry gets through.
    let t = 0;
    gateway = await startGateway({
      engine: kit.engine, db: tdb.db, tokens, defaultStoryId: 'minimal', staticDir: null,
      clocks: { clock: realClocks().clock, now: () => t },
      // The client paces itself in real time; the server's time stands still until a refusal.
      limits: { rate: { perSecond: 20, burst: 12 } },
    });
    await front.start(gateway.port);
    const client = new PlayerClient({ url: `ws://127.0.0.1:${front.port}/ws`, backoffBaseMs: 5, backoffMaxMs: 20 });
    const refusals: string[] = [];
    let reconnects = 0;
    client.events.on('status', (s: string) => {
      if (s === 'connecting') reconnects += 1;
    });
    client.events.on('frame', (f: ServerFrame) => {
      if (f.type === 'error' && f.code === 'RATE_LIMITED' && f.clientInputId) {
        refusals.push(f.clientInputId);
        t += 1000;
      }
    });
    await client.start();
    const ids = Array.from({ length: 30 }, (_, i) => client.input(`burst ${i + 1}`));
    await untilLine(client, 'answered', 30);
    expect(refusals.length).toBeGreaterThan(0);
    expect(client.store.lines.filter((l) => ids.includes(l.clientInputId)).map((l) => l.state)).toEqual(ids.map(() => 'answered'));
    expect(await ledgerOrder(client.store.sessionId as string)).toEqual(ids);
    // Retried on the same connection, not after a reconnect.
    expect(reconnects).toBe(1);
    await client.close();
  }, 240_000);
});
