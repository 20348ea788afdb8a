import { worldValue, type TruthSet } from '../../domain/truth-set.ts';
import { witnessedKey, wrongedKey } from './world.ts';
import { PLAYER_ID, type Character } from '../../domain/story/schema.ts';
import type { CharacterIntent } from './character.ts';

/**
 * How a character answers an act the story did not author, from its personality (axes and
 * emotions): the victim of a hostile act recoils or hits back, witnesses stiffen, an odd
 * act draws a look that fits the person. The hostile act itself is durable (the world agent
 * writes RelationshipShifted events), so a character the player hurt — or saw hurting
 * someone — stays guarded afterwards (`remembersHostility`).
 *
 * @example
 * reactionTo(ada, 'hostile', 'target') // → { action: 'act', gesture: 'Ada Marsh steps out of your reach …', tone: 'hostile' }
 */
export type ActTone = 'hostile' | 'kind' | 'odd';

export type Temperament = Pick<Character, 'name'> & Partial<Pick<Character, 'axes' | 'emotions'>>;

function axis(c: Temperament, ...names: string[]): number {
  for (const n of names) {
    const a = c.axes?.find((x) => x.name === n);
    if (a) return a.central;
  }
  return 0;
}

function emotion(c: Temperament, name: 'anger' | 'fear' | 'sadness' | 'trust' | 'joy'): number {
  return c.emotions?.[name] ?? 0;
}

export function reactionTo(c: Temperament, tone: ActTone, role: 'target' | 'witness'): CharacterIntent {
  const n = c.name;
  const warm = axis(c, 'warmth', 'kindness');
  const wary = axis(c, 'caution', 'suspicion');
  const brave = axis(c, 'courage', 'pride', 'duty');
  if (tone === 'hostile' && role === 'target') {
    if (emotion(c, 'anger') >= 0.3 || brave >= 0.6) return { action: 'act', gesture: `${n} shoves you back, hard. "Try that again and see where it gets you."`, target: PLAYER_ID, tone: 'hostile' };
    if (emotion(c, 'fear') >= 0.5) return { action: 'act', gesture: `${n} flinches away from you, arms up, and backs out of reach.`, target: PLAYER_ID, tone: 'afraid' };
    if (warm >= 0.4) return { action: 'speak', speech: `${n} stares at you, more hurt than harmed. "What was that for?"`, target: PLAYER_ID, tone: 'guarded' };
    return { action: 'act', gesture: `${n} steps out of your reach, eyes gone hard. "That was a mistake."`, target: PLAYER_ID, tone: 'hostile' };
  }
  if (tone === 'hostile') {
    if (warm >= 0.4) return { action: 'speak', speech: `"Leave off!" ${n} cries, and puts themselves between you.`, tone: 'hostile' };
    if (wary >= 0.5) return { action: 'gesture', gesture: `${n} goes very still, watching your hands.`, tone: 'guarded' };
    if (warm < 0) return { action: 'gesture', gesture: `${n} watches with cold interest and does nothing at all.`, tone: 'neutral' };
    return { action: 'gesture', gesture: `${n} draws back from you.`, tone: 'afraid' };
  }
  if (tone === 'kind' && role === 'target') {
    if (warm >= 0.4) return { action: 'gesture', gesture: `${n} softens, a little, and does not pull away.`, target: PLAYER_ID, tone: 'warm' };
    if (emotion(c, 'sadness') >= 0.6) return { action: 'gesture', gesture: `${n} does not look at you, but does not pull away either.`, target: PLAYER_ID, tone: 'grieving' };
    return { action: 'gesture', gesture: `${n} stiffens, then lets it pass.`, target: PLAYER_ID, tone: 'guarded' };
  }
  if (tone === 'kind') return { action: 'gesture', gesture: `${n} looks away, as if from something private.`, tone: 'neutral' };
  // An odd act: a look that fits the person.
  if (wary >= 0.5) return { action: 'gesture', gesture: `${n} watches you warily.`, tone: 'guarded' };
  if (warm >= 0.4) return { action: 'gesture', gesture: `${n} watches you with a puzzled half-smile.`, tone: 'warm' };
  if (warm < 0) return { action: 'gesture', gesture: `${n} raises an eyebrow and says nothing.`, tone: 'neutral' };
  return { action: 'gesture', gesture: `${n} glances at you, then away.`, tone: 'neutral' };
}

/** The player hurt this character, or hurt someone in front of them (durable world keys the world agent wrote). */
export function remembersHostility(ts: TruthSet, characterId: string): boolean {
  return Number(worldValue(ts, wrongedKey(characterId)) ?? 0) > 0 || worldValue(ts, witnessedKey(characterId)) === true;
}

/** What a guarded character says before anything else, once hurt. */
export function guardedPreface(c: Temperament): string {
  return `${c.name} keeps well back from you now.`;
}
