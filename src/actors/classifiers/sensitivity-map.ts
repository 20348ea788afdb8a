import type { JudgmentCategory } from '../../domain/events.ts';
import type { TriggerPredicate } from '../../domain/predicates.ts';
import type { Character, Scene } from '../../domain/story/schema.ts';

/**
 * The SensitivityMap (seed: "Scene Entry" step 5; domain.md: "Classification stages"):
 * pre-computed targets the stage-3 matcher looks for in every input of the scene,
 * built once at entry from the scene's gates and goals, the cast's motivations and
 * echo patterns, and a small tone lexicon toward each cast member.
 * Entries are `{ id, sourceSubscription, pattern, baselineConfidence, priorityTier }`.
 *
 * @example
 * const map = buildSensitivityMap(scene, characters);
 * map.entries.find((e) => e.sourceSubscription === 'gate:why_the_light_is_dark')
 */
export type SensitivityPattern =
  | { kind: 'keyword'; keywords: string[] }
  | { kind: 'action'; action: string; target?: string }
  | { kind: 'relational'; toward: string; tone: 'warm' | 'hostile' | 'vulnerable' }
  | { kind: 'thematic'; field: string[] };

export interface SensitivityEntry {
  id: string;
  /** What subscribed: `gate:<id>`, `goal:<id>`, `motivation:<character>/<id>`, `echo:<character>/<id>`, `tone:<character>`. */
  sourceSubscription: string;
  pattern: SensitivityPattern;
  baselineConfidence: number;
  /** 1 immediate (gates), 2 scene-local (relational, echoes, goals), 3 deferred. */
  priorityTier: 1 | 2 | 3;
  /** The judgment a match yields. */
  category: JudgmentCategory;
  subject: string;
  description: string;
}

export interface SensitivityMap {
  sceneKey: string;
  entries: SensitivityEntry[];
}

export const WARM_WORDS = ['thank', 'thanks', 'sorry', 'please', 'friend', 'kind', 'help', 'gentle', 'safe', 'promise', 'trust', 'care', 'together', 'brave', 'comfort', 'hug', 'love', 'dear'];
export const HOSTILE_WORDS = ['liar', 'fool', 'coward', 'shut', 'hate', 'threaten', 'kill', 'stupid', 'drunk', 'useless', 'attack', 'hit', 'kick', 'idiot', 'damn', 'curse'];
export const VULNERABLE_WORDS = ['afraid', 'scared', 'lost', 'alone', 'grief', 'miss', 'sad', 'cry', 'weep', 'hurt', 'frightened', 'tired'];

/** Keywords and actions a predicate listens for (topicMentioned atoms, did(...) atoms). */
export function predicateCues(p: TriggerPredicate): { keywords: string[]; actions: Array<{ action: string; target?: string }> } {
  const keywords: string[] = [];
  const actions: Array<{ action: string; target?: string }> = [];
  const walk = (q: TriggerPredicate): void => {
    if ('all' in q) q.all.forEach(walk);
    else if ('any' in q) q.any.forEach(walk);
    else if ('not' in q) return;
    else if ('difference' in q) walk(q.difference.include);
    else if ('threshold' in q) q.threshold.of.forEach(walk);
    else if ('after' in q) walk(q.after.then);
    else if ('since' in q) walk(q.since.holds);
    else if ('topicMentioned' in q) keywords.push(q.topicMentioned.toLowerCase());
    else if ('holds' in q && q.holds.predicate === 'did' && q.holds.args[1]) {
      actions.push(q.holds.args[2] ? { action: q.holds.args[1], target: q.holds.args[2] } : { action: q.holds.args[1] });
    } else if ('holds' in q && q.holds.predicate === 'holds' && q.holds.args[1]) {
      // Someone coming to hold an item: giving or taking it is the act that matters.
      actions.push({ action: q.holds.args[0] === 'player' ? 'take' : 'give', target: q.holds.args[1] });
    } else if ('eventOccurred' in q) {
      if (q.eventOccurred.topic) keywords.push(q.eventOccurred.topic.toLowerCase());
      if (q.eventOccurred.action) actions.push(q.eventOccurred.target ? { action: q.eventOccurred.action, target: q.eventOccurred.target } : { action: q.eventOccurred.action });
    }
  };
  walk(p);
  return { keywords, actions };
}

export function buildSensitivityMap(scene: Scene, characters: readonly Character[]): SensitivityMap {
  const entries: SensitivityEntry[] = [];
  for (const gate of scene.gates) {
    const cues = predicateCues(gate.condition);
    const subject = gate.speaker ?? gate.id;
    if (cues.keywords.length > 0) {
      entries.push({
        id: `gate:${gate.id}:topic`, sourceSubscription: `gate:${gate.id}`, pattern: { kind: 'keyword', keywords: cues.keywords },
        baselineConfidence: 0.7, priorityTier: 1, category: 'IntentInferred', subject, description: `the player is reaching toward what ${subject} holds back (${gate.id})`,
      });
    }
    cues.actions.forEach((a, i) => {
      entries.push({
        id: `gate:${gate.id}:act${i}`, sourceSubscription: `gate:${gate.id}`, pattern: { kind: 'action', ...a },
        baselineConfidence: 0.8, priorityTier: 1, category: 'IntentInferred', subject, description: `the player acts toward ${gate.id}`,
      });
    });
  }
  for (const goal of scene.goals) {
    const cues = predicateCues(goal.completion);
    cues.actions.forEach((a, i) => {
      entries.push({
        id: `goal:${goal.id}:act${i}`, sourceSubscription: `goal:${goal.id}`, pattern: { kind: 'action', ...a },
        baselineConfidence: 0.6, priorityTier: 2, category: 'EngagementQuality', subject: goal.id, description: `progress toward: ${goal.description}`,
      });
    });
  }
  for (const c of characters) {
    for (const m of c.motivations) {
      if (m.keywords.length === 0) continue;
      entries.push({
        id: `motivation:${c.id}/${m.id}`, sourceSubscription: `motivation:${c.id}/${m.id}`, pattern: { kind: 'thematic', field: m.keywords.map((k) => k.toLowerCase()) },
        baselineConfidence: m.layer === 'surface' ? 0.55 : 0.65, priorityTier: 2, category: 'ThematicResonance', subject: c.id,
        description: `touches ${c.name}'s ${m.layer} motivation: ${m.description}`,
      });
    }
    for (const e of c.echoes) {
      entries.push({
        id: `echo:${c.id}/${e.id}`, sourceSubscription: `echo:${c.id}/${e.id}`, pattern: { kind: 'keyword', keywords: e.keywords.map((k) => k.toLowerCase()) },
        baselineConfidence: 0.7, priorityTier: 2, category: 'EchoResonance', subject: c.id, description: `echoes ${c.name}'s ${e.description}`,
      });
    }
    entries.push(
      { id: `tone:${c.id}:warm`, sourceSubscription: `tone:${c.id}`, pattern: { kind: 'relational', toward: c.id, tone: 'warm' }, baselineConfidence: 0.6, priorityTier: 2, category: 'AffectionShift', subject: c.id, description: `warmth toward ${c.name}` },
      { id: `tone:${c.id}:hostile`, sourceSubscription: `tone:${c.id}`, pattern: { kind: 'relational', toward: c.id, tone: 'hostile' }, baselineConfidence: 0.65, priorityTier: 2, category: 'TrustShift', subject: c.id, description: `hostility toward ${c.name}` },
      { id: `tone:${c.id}:vulnerable`, sourceSubscription: `tone:${c.id}`, pattern: { kind: 'relational', toward: c.id, tone: 'vulnerable' }, baselineConfidence: 0.55, priorityTier: 2, category: 'VulnerabilityExpressed', subject: c.id, description: `the player opens up to ${c.name}` },
    );
  }
  return { sceneKey: scene.id, entries };
}
