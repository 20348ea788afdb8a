import type { CharacterIntent } from './character.ts';
import type { GateRelease } from './storykeeper.ts';

/**
 * The reconciler (domain.md: "Agents"): puts several characters' intents into one
 * deterministic order and adds no content of its own. Rules, in order:
 *   1. a character who delivers a released gate this turn speaks the gate, so its own
 *      proposed line is dropped (the storykeeper's release wins);
 *   2. the character the player addressed goes first, then the others in cast order;
 *   3. `wait` intents are dropped; at most `maxBeats` beats (default 3).
 *
 * @example
 * sequenceIntents({ ewan: { action: 'speak', speech: '…' } }, { cast: ['ewan'], addressee: 'ewan', releases: [] })
 * // → [{ characterId: 'ewan', kind: 'speech', text: '…' }]
 */
export interface Beat {
  characterId: string;
  kind: 'speech' | 'gesture' | 'act';
  text: string;
}

export interface SequenceOptions {
  cast: readonly string[];
  addressee?: string | undefined;
  releases: readonly GateRelease[];
  maxBeats?: number;
}

export function sequenceIntents(intents: Readonly<Record<string, CharacterIntent>>, o: SequenceOptions): Beat[] {
  const speakers = new Set(o.releases.map((r) => r.speaker).filter((s): s is string => s !== null));
  const order = [...o.cast].sort((a, b) => (a === o.addressee ? -1 : b === o.addressee ? 1 : o.cast.indexOf(a) - o.cast.indexOf(b)));
  const beats: Beat[] = [];
  for (const id of order) {
    const intent = intents[id];
    if (!intent || intent.action === 'wait' || speakers.has(id)) continue;
    if (intent.action === 'speak' && intent.speech) beats.push({ characterId: id, kind: 'speech', text: intent.speech });
    else if (intent.gesture) beats.push({ characterId: id, kind: intent.action === 'act' ? 'act' : 'gesture', text: intent.gesture });
  }
  return beats.slice(0, o.maxBeats ?? 3);
}
