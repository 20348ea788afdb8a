import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { serve, type RunningServer } from '../../../src/gateway/serve.ts';
import { silentLogger } from '../../../src/logger.ts';
import { GatewaySocket } from '../../support/gateway-socket.ts';

/**
 * "Done when": `npm run serve` on no configuration (embedded PGlite under a fresh data
 * directory, the sample story, a generated token secret) and a client that plays the
 * sample story to its end over the protocol — the README's playthrough, line by line.
 */
const PLAYTHROUGH = [
  'look',
  'ask Ewan about the light',
  'go to the inn',
  'ask Silas about the Curlew',
  'take the key',
  'give the letter to Ada',
  'go to the cliff path',
  'ask Nell about the lamp',
  'go to the lighthouse',
  'go up',
  'unlock the door',
  'go up',
  'ask Tobias about Davey',
  'give the lamp to Tobias',
];

describe('the sample story to its end through `serve` on the embedded default', () => {
  let server: RunningServer | null = null;
  let dir: string;
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plays every line of the README playthrough and ends the story', async () => {
    dir = await mkdtemp(join(tmpdir(), 'storyteller-serve-'));
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, STORYTELLER_DATA_DIR: dir, STORYTELLER_PORT: '0', STORYTELLER_FRAME_MODEL: 'rules', LOG_LEVEL: 'silent' };
    server = await serve(loadConfig(env), { logger: silentLogger });
    const s = await GatewaySocket.open(`ws://127.0.0.1:${server.gateway.port}/ws`);
    const ready = await s.start();
    expect(ready.storyId).toBe('the_lighthouse_keeper');
    const scenes = [(await s.next('scene.entered')).name];
    for (const [i, line] of PLAYTHROUGH.entries()) {
      const { ack, done } = await s.play(`p-${i + 1}`, line);
      expect(ack.turn).toBe(i + 1);
      expect(done.text?.length ?? 0).toBeGreaterThan(0);
    }
    await s.next('session.state', (st) => st.lifecycle === 'ended');
    scenes.push(...s.all('scene.entered').slice(1).map((e) => e.name));
    expect(scenes).toEqual(['The Quay at Skerry End', 'The Drowned Bell', 'The Cliff Path', "The Keeper's Door", 'The Lamp Room']);
    expect(s.all('goal.fired').map((g) => g.goalId)).toContain('learn_why_dark');
    expect(s.all('scene.exited').at(-1)?.nextScene).toBeNull();
    s.ws.close();
  });

  it('a debug-scope token streams each character frame (decoded prediction and frame text) of its session', async () => {
    if (!server) throw new Error('the playthrough test starts the server');
    const player = await GatewaySocket.open(`ws://127.0.0.1:${server.gateway.port}/ws`);
    const ready = await player.start();
    const dev = await GatewaySocket.open(`ws://127.0.0.1:${server.gateway.port}/ws`);
    await dev.resume(server.tokens.sign({ sub: 'dev', sid: ready.sessionId, scope: ['play', 'debug'] }), ready.sessionId);
    dev.send({ type: 'debug.subscribe' });
    await dev.play('d-1', 'ask Ewan about the light');
    const frames = dev.all('debug').filter((r) => r.kind === 'frame');
    expect(frames.length).toBeGreaterThan(0);
    const frame = frames[0]?.data as { characterId: string; schema: string; text: string; prediction: { action: { type: string } } };
    expect(frame.schema).toBe('storyteller-character/1');
    expect(frame.characterId).toBe('ewan');
    expect(frame.text.length).toBeGreaterThan(0);
    expect(typeof frame.prediction.action.type).toBe('string');
    // The prompts sent to each LLM role and the raw replies, for this session only.
    const calls = dev.all('debug').filter((r) => r.kind === 'llm').map((r) => r.data as { sessionId: string; turn: number | null; role: string; messages: Array<{ content: string }>; reply: string });
    expect(calls.length).toBeGreaterThan(0);
    // Each call names the turn it served: d-1's, the session's first.
    const turn = (await dev.all('ack').find((a) => a.clientInputId === 'd-1'))?.turn;
    expect(turn).toBe(1);
    expect(new Set(calls.map((c) => c.turn))).toEqual(new Set([turn]));
    expect(new Set(calls.map((c) => c.sessionId))).toEqual(new Set([ready.sessionId]));
    expect(calls.map((c) => c.role)).toContain('narrator');
    const narrator = calls.find((c) => c.role === 'narrator');
    expect(narrator?.messages.some((m) => m.content.includes('Ewan') || m.content.includes('light'))).toBe(true);
    expect(narrator?.reply.length ?? 0).toBeGreaterThan(0);
    // An ordinary player's token: the subscription is refused and nothing of it ever arrives.
    player.send({ type: 'debug.subscribe' });
    const refused = await player.next('error', (e) => e.ref === 'debug.subscribe');
    expect(refused.code).toBe('AUTH_FORBIDDEN');
    await player.play('p-x', 'look');
    expect(player.all('debug')).toHaveLength(0);
    player.ws.close();
    dev.ws.close();
  });
});
