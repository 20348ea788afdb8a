import { describe, expect, it } from 'vitest';
import { frameInputFor } from '../../../src/actors/agents/frame-input.ts';
import { playerEventOf } from '../../../src/actors/agents/player-event.ts';
import { assembleCast, buildSceneData, buildSceneEntities, buildSceneGraph } from '../../../src/actors/scene-model.ts';
import { buildLexicon, parseInput } from '../../../src/actors/classifiers/stage1.ts';
import { applyEvents, emptyTruthSet, type TruthEvent } from '../../../src/domain/truth-set.ts';
import { RuleFrameComputer } from '../../../src/inference/frame/rule-frame-computer.ts';
import { sampleStory } from '../../support/story.ts';

const fired = (...gates: string[]) =>
  applyEvents(emptyTruthSet(), gates.map((gateId, i): TruthEvent => ({ type: 'GateFired', data: { gateId }, narrativeTs: i + 1 })));

describe('scene model: cast assembly, entities, graph, frames', () => {
  it.each([
    [[], ['silas']],
    [['nell_gives_lamp'], ['nell', 'silas']],
    [['nell_gives_lamp', 'silas_slips'], ['nell']],
    [['silas_slips'], []],
  ])('the keeper’s door with gates %j fired has cast %j (contingent members)', async (gates, cast) => {
    const story = await sampleStory();
    const data = buildSceneData(story, 'the_keepers_door');
    expect(assembleCast(data.scene, fired(...gates), data.setting.features)).toEqual(cast);
  });

  it('scene data: deterministic scene UUID, adjacency, departure settings', async () => {
    const data = buildSceneData(await sampleStory(), 'the_cliff_path');
    expect(data.sceneId).toBe(buildSceneData(await sampleStory(), 'the_cliff_path').sceneId);
    expect(data.adjacent.map((a) => a.id)).toEqual(['harbour', 'village_inn', 'keepers_yard']);
    expect(data.departureSettings).toEqual({ the_keepers_door: 'keepers_yard' });
  });

  it('entities in reach: objects lying here and things held by the player or the cast', async () => {
    const story = await sampleStory();
    const data = buildSceneData(story, 'the_cliff_path');
    const entities = buildSceneEntities(story, data, ['nell'], emptyTruthSet());
    expect(entities.objects.map((o) => o.id).sort()).toEqual(['board_letter', 'brass_lamp', 'cairn']);
    expect(entities.characters.map((c) => c.id)).toEqual(['nell']);
  });

  it('graph context: edges among player and cast only', async () => {
    const story = await sampleStory();
    const graph = buildSceneGraph(story, buildSceneData(story, 'the_lamp_room'), ['tobias', 'nell']);
    expect(graph.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(['nell>player', 'nell>tobias', 'tobias>nell', 'tobias>player']);
    expect(graph.posteriors).toEqual([]);
  });

  it('frame input: the edge toward the player first; the frame model (rules) turns it into a frame text', async () => {
    const story = await sampleStory();
    const tobias = story.characters.find((c) => c.id === 'tobias')!;
    const scene = story.scenes.find((s) => s.id === 'the_lamp_room')!;
    const lexicon = buildLexicon({ characters: [tobias], objects: [], settings: [story.settings[4]!] });
    const parsed = parseInput('ask Tobias about Davey, please', lexicon);
    const event = playerEventOf(parsed, [], [], new Set(['tobias']));
    expect(event).toEqual({ type: 'inquiry', register: 'tender', confidence: 0.5, targetCount: 1 });
    const input = frameInputFor(tobias, story.relations, scene, { castSize: 1 }, event);
    expect(input.edges[0]?.to).toBe('player');
    expect(input.edges[0]?.role).toBe('hub');
    const rel = story.relations.find((r) => r.from === 'tobias' && r.to === 'player')!;
    expect(input.edges[0]?.trust_benevolence).toEqual({ central: rel.trust_benevolence, variance: 0.15, low: Math.max(rel.trust_benevolence - 0.225, -1), high: Math.min(rel.trust_benevolence + 0.225, 1) });
    expect(input.primaries.map((p) => p.id)).toEqual(['joy', 'trust', 'fear', 'surprise', 'sadness', 'disgust', 'anger', 'anticipation']);
    expect(input.axes.every((a) => a.provenance === 'authored')).toBe(true);
    const [frame] = await new RuleFrameComputer().computeFrames([input]);
    expect(frame?.text.length).toBeGreaterThan(50);
    expect(frame?.text).toContain(`Action: ${frame?.prediction.action.type}`);
  });
});
