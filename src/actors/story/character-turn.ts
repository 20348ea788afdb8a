import { PLAYER_ID } from '../../domain/story/schema.ts';
import { affordanceAnswers, canonicalVerb, HOSTILE_ACTIONS, KIND_ACTIONS } from '../../domain/story/verb-synonyms.ts';
import type { CharacterPrediction } from '../../inference/frame/character-schema.ts';
import { historyEntryOf, pushHistory } from '../../inference/frame/decoder.ts';
import type { FrameComputer } from '../../inference/frame/features.ts';
import type { CharacterRequest } from '../behaviour.ts';
import type { CharacterTurn } from '../agents/character.ts';
import { emotionsNow } from '../agents/emotions.ts';
import { frameHistoryOf, frameInputFor } from '../agents/frame-input.ts';
import { playerEventOf } from '../agents/player-event.ts';
import { remembersHostility, type ActTone } from '../agents/reactions.ts';
import { characterBoundary } from '../agents/storykeeper.ts';
import type { FactResult } from '../classifiers/stage2.ts';
import type { FrameObserver } from '../frame-observer.ts';
import type { StoryParser } from './parsing.ts';
import { factEventsOf, rolesOf, truthOf, warmOf, type Warm } from './warm.ts';

/**
 * What one character agent is given for a turn: its per-turn frame (the frame model on the
 * player's act; the entry frame if that fails), how the act looks to it (kind, hostile, odd;
 * done to it or only seen), whether it remembers hostility, its knowledge boundary, and
 * whether it was addressed or is the one holding what the player reached for.
 */
export interface CharacterTurnDeps {
  parser: StoryParser;
  frames: FrameComputer;
  onFrame?: FrameObserver | undefined;
}

export async function characterTurn(deps: CharacterTurnDeps, req: CharacterRequest): Promise<CharacterTurn | null> {
  const w = warmOf(req.scene);
  const character = w.entities.characters.find((c) => c.id === req.characterId);
  if (!character) return null;
  const parsed = deps.parser.parsedOf(req);
  const facts = (req.results.stage2?.output ?? null) as FactResult | null;
  const ts = truthOf(req.truthSet);
  const sceneTurn = req.input.turn - w.data.entryTurn;
  let frameText = w.frames[character.id]?.text ?? '';
  let prediction: CharacterPrediction | null = null;
  let history: CharacterTurn['history'] = null;
  try {
    const event = playerEventOf(parsed, factEventsOf(req), req.results.stage3?.events ?? [], new Set(w.data.cast));
    const before = frameHistoryOf(ts, character.id);
    const input = frameInputFor({ ...character, emotions: emotionsNow(character, ts) }, w.graph.edges, w.data.scene, { castSize: w.data.cast.length, roles: rolesOf(w.entities) }, event, before);
    const [frame] = await deps.frames.computeFrames([input]);
    if (frame) {
      frameText = frame.text;
      prediction = frame.prediction;
      history = { before, after: pushHistory(before, historyEntryOf(frame.prediction)) };
      deps.onFrame?.({ sessionId: req.session.sessionId, sceneKey: w.data.sceneKey, phase: 'turn', turn: req.input.turn, characterId: frame.characterId, schema: frame.schema, prediction, history: before, text: frame.text, tokenCount: frame.tokenCount });
    }
  } catch {
    // The entry frame stands in for the per-turn one.
  }
  return {
    prediction,
    history,
    character,
    act: actToneFor(character.id, facts, w),
    wary: remembersHostility(ts, character.id),
    knowledge: characterBoundary(w.data, w.entities, ts, character.id, w.graph.edges),
    frameText,
    parsed,
    turn: req.input.turn,
    sceneTurn,
    firstMeeting: (w.data.firstMeetings ?? []).includes(character.id),
    sceneName: w.data.scene.name,
    addressed: parsed.addressee === character.id || parsed.recipient === character.id || parsed.mentions.some((m) => m.id === character.id),
    refusedByMe: facts?.blockedBy === character.id,
    touchesMotivation: character.motivations.some((m) => m.keywords.some((k) => parsed.keywords.includes(k.toLowerCase()))),
  };
}

/** The tone of an unauthored act this turn, as a character sees it (done to them, or only seen). */
function actToneFor(characterId: string, facts: FactResult | null, w: Warm): { tone: ActTone; toMe: boolean } | null {
  for (const e of facts?.events ?? []) {
    if (e.type !== 'ActionPerformed' || e.data.actor !== PLAYER_ID) continue;
    const verb = canonicalVerb(e.data.action);
    const toMe = e.data.target === characterId;
    const person = e.data.target !== undefined && w.data.cast.includes(e.data.target);
    if (HOSTILE_ACTIONS.has(verb) && person) return { tone: 'hostile', toMe };
    if (KIND_ACTIONS.has(verb) && person) return { tone: 'kind', toMe };
    if (['take', 'give', 'show', 'drop', 'read'].includes(verb)) continue;
    const entity = w.entities.objects.find((o) => o.id === e.data.target);
    if (entity?.affordances.some((a) => affordanceAnswers(a, e.data.action))) continue;
    return { tone: 'odd', toMe };
  }
  return null;
}

