import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineSession } from '../../support/engine-session.ts';
import { StoryBehaviour } from '../../../src/actors/story-behaviour.ts';
import type { Decomposition } from '../../../src/actors/classifiers/decomposition.ts';
import type { ParsedInput } from '../../../src/actors/classifiers/stage1.ts';
import { worldValue } from '../../../src/domain/truth-set.ts';
import { loadLlmConfig } from '../../../src/inference/llm/config.ts';
import { LlmRouter } from '../../../src/inference/llm/router.ts';
import { silentLogger } from '../../../src/logger.ts';
import { startLoopbackAnthropic, type LoopbackLlmServer } from '../../support/loopback-anthropic.ts';
import { sampleStory } from '../../support/story.ts';

/**
 * Stage 1's optional LLM decomposition (role `classifier`), through the real
 * @anthropic-ai/sdk against the loopback Messages API, in the real story behaviour.
 * The oracle is what the rules alone make of the same input: "I fling my arms around
 * Ewan" reads to them as `throw` at Ewan — a hostile act Ewan remembers (world key
 * `wronged_ewan`) — while the LLM's decomposition (a hug) is a kindness.
 */
let server: LoopbackLlmServer;
let router: LlmRouter;

beforeAll(async () => {
  server = await startLoopbackAnthropic('{"clauses":[]}');
  const config = loadLlmConfig({ STORYTELLER_LLM_ROLES: 'classifier=anthropic,*=scripted', ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: server.url, STORYTELLER_LLM_MAX_RETRIES: '0' });
  router = LlmRouter.fromConfig(config, { logger: silentLogger });
});
afterAll(async () => {
  await router?.close();
  await server?.close();
});

/**
 * A quay session. The classifier's timeout is long by default so a slow machine never turns an answer into a
 * timeout; only the test of a provider that never answers sets a short one (its outcome does not depend on speed).
 */
async function quay(options: { classifier?: boolean; timeoutMs?: number } = {}): Promise<EngineSession> {
  const story = await sampleStory();
  const behaviour = new StoryBehaviour({ stories: async () => story, ...(options.classifier === false ? {} : { classifier: router.forRole('classifier'), classifierTimeoutMs: options.timeoutMs ?? 60_000 }) });
  const s = new EngineSession(behaviour, { storyId: story.id });
  await s.start();
  return s;
}

const stage1 = (turn: Awaited<ReturnType<EngineSession['send']>>) => turn.results.stage1?.output as ParsedInput & { decomposition?: Decomposition };
const HUG = 'I fling my arms around Ewan';

describe('stage 1 with an LLM classifier, arbitrated by the rules', () => {
  it('the rules alone read the hug as a hostile throw (the oracle for the cases below)', async () => {
    const s = await quay({ classifier: false });
    const turn = await s.send(HUG);
    expect(stage1(turn).verb).toBe('throw');
    expect(worldValue(s.truthSet, 'wronged_ewan')).not.toBeNull();
  });

  it("uses the LLM's structured decomposition when the rules are unsure: a hug, and Ewan is not wronged", async () => {
    const s = await quay();
    const before = server.requests.length;
    server.enqueue({ kind: 'text', text: JSON.stringify({ clauses: [{ kind: 'action', verb: 'hug', target: 'ewan' }] }) });
    const turn = await s.send(HUG);
    expect(stage1(turn)).toMatchObject({ kind: 'action', verb: 'comfort', lemma: 'hug', entity: 'ewan', decomposition: { by: 'llm' } });
    expect(worldValue(s.truthSet, 'wronged_ewan')).toBeNull();
    // One structured-output request, with the scene's ids in the prompt.
    const req = server.requests.slice(before);
    expect(req).toHaveLength(1);
    expect(req[0]?.body.output_config).toMatchObject({ format: { type: 'json_schema' } });
    expect(JSON.stringify(req[0]?.body.messages)).toContain('character ewan');
  });

  it('ids the scene does not hold are dropped: the LLM cannot bring an absent person into play', async () => {
    const s = await quay();
    server.enqueue({ kind: 'text', text: JSON.stringify({ clauses: [{ kind: 'action', verb: 'hug', target: 'tobias' }, { kind: 'action', verb: 'hug', target: 'ewan' }] }) });
    const turn = await s.send(HUG);
    const p = stage1(turn);
    expect(p.decomposition).toEqual({ by: 'llm' });
    expect(p.clauses.map((c) => c.entity)).toEqual([undefined, 'ewan']);
    expect(p.clauses.flatMap((c) => c.mentions.map((m) => m.id))).not.toContain('tobias');
  });

  it('invalid output: the rules answer alone', async () => {
    const s = await quay();
    server.enqueue({ kind: 'text', text: JSON.stringify({ clauses: [{ kind: 'teleport', verb: 'hug' }] }) });
    const turn = await s.send(HUG);
    expect(stage1(turn)).toMatchObject({ verb: 'throw', decomposition: { by: 'rules', reason: 'invalid' } });
    expect(turn.degraded).toEqual([]);
    expect(worldValue(s.truthSet, 'wronged_ewan')).not.toBeNull();
  });

  it('a provider that does not answer in time: the rules answer alone and the turn completes', async () => {
    const s = await quay({ timeoutMs: 300 });
    server.enqueue({ kind: 'hang' });
    const turn = await s.send(HUG);
    expect(stage1(turn)).toMatchObject({ verb: 'throw', decomposition: { by: 'rules', reason: 'timeout' } });
    expect(turn.degraded).toEqual([]);
    expect(turn.text.length).toBeGreaterThan(0);
  });

  it('an input the rules are sure of never reaches the LLM', async () => {
    const s = await quay();
    const before = server.requests.length;
    const turn = await s.send('ask Ewan about the light');
    expect(stage1(turn).decomposition).toEqual({ by: 'rules', reason: 'sure' });
    expect(server.requests.length).toBe(before);
    expect(s.truthSet.persistent.some((p) => p.predicate === 'gate_fired' && p.args[0] === 'why_the_light_is_dark')).toBe(true);
  });

  it('the classifier runs only when named: `*` alone does not turn it on', () => {
    expect(loadLlmConfig({ STORYTELLER_LLM_ROLES: '*=scripted' }).namedRoles).toEqual([]);
    expect(loadLlmConfig({ STORYTELLER_LLM_ROLES: 'narrator=scripted,classifier=scripted' }).namedRoles).toEqual(['narrator', 'classifier']);
    expect(loadLlmConfig({}).namedRoles).toEqual([]);
  });
});
