import type { NewEvent } from '../../domain/events.ts';
import { HOSTILE_WORDS, VULNERABLE_WORDS, WARM_WORDS, type SensitivityEntry, type SensitivityMap } from './sensitivity-map.ts';
import type { ParsedInput } from './stage1.ts';

/**
 * Stage 3 — sensitivity matching (domain.md: "Classification stages"): the parsed input
 * and its factual events are matched against the scene's SensitivityMap; every match
 * becomes a provisional InterpretiveJudgment whose confidence is the entry's baseline
 * scaled by how strongly it matched. Stage 4 may replace them (`replaces`).
 *
 * @example
 * matchSensitivity(parsed, factualEvents, map, { inputId: 12, turn: 3, sceneId })
 * // → [{ type: 'InterpretiveJudgment', data: { category: 'EchoResonance', subject: 'tobias', confidence: 0.7, provisional: true, … } }]
 */
export interface MatchContext {
  inputId: number;
  turn: number;
  sceneId: string;
}

export interface SensitivityMatch {
  entry: SensitivityEntry;
  strength: number;
}

const warm = new Set(WARM_WORDS);
const hostile = new Set(HOSTILE_WORDS);
const vulnerable = new Set(VULNERABLE_WORDS);

/** Matches, strongest tier first; at most 8 judgments a turn. */
export function findMatches(p: ParsedInput, facts: readonly NewEvent[], map: SensitivityMap): SensitivityMatch[] {
  if (p.kind === 'meta') return [];
  const words = new Set(p.keywords);
  const text = ` ${p.raw.toLowerCase()} `;
  const has = (k: string) => (k.includes(' ') ? text.includes(` ${k} `) : words.has(k) || words.has(`${k}s`));
  const acts = facts.filter((e) => e.type === 'ActionPerformed').map((e) => e.data as { action: string; target?: string; recipient?: string });
  const toward = new Set([p.addressee, p.recipient, ...p.mentions.filter((m) => m.kind === 'character').map((m) => m.id)].filter((x): x is string => x !== undefined));
  const out: SensitivityMatch[] = [];
  for (const entry of map.entries) {
    const pattern = entry.pattern;
    let strength = 0;
    if (pattern.kind === 'keyword' || pattern.kind === 'thematic') {
      const list = pattern.kind === 'keyword' ? pattern.keywords : pattern.field;
      const hits = list.filter(has).length;
      if (hits > 0) strength = Math.min(1, 0.75 + 0.25 * (hits - 1));
    } else if (pattern.kind === 'action') {
      if (acts.some((a) => a.action === pattern.action && (pattern.target === undefined || a.target === pattern.target))) strength = 1;
      else if (acts.some((a) => pattern.target !== undefined && a.target === pattern.target)) strength = 0.6;
    } else if (toward.has(pattern.toward)) {
      const lexicon = pattern.tone === 'warm' ? warm : pattern.tone === 'hostile' ? hostile : vulnerable;
      const hits = [...words].filter((w) => lexicon.has(w)).length + (pattern.tone === 'hostile' && acts.some((a) => a.action === 'attack' && a.target === pattern.toward) ? 2 : 0);
      if (hits > 0) strength = Math.min(1, 0.7 + 0.15 * (hits - 1));
    }
    if (strength > 0) out.push({ entry, strength });
  }
  return out.sort((a, b) => a.entry.priorityTier - b.entry.priorityTier || b.strength - a.strength).slice(0, 8);
}

/** Deterministic judgment id, so a re-run turn writes the same judgment. */
export function judgmentId(turn: number, entryId: string): string {
  return `t${turn}:${entryId}`.slice(0, 200);
}

export function matchSensitivity(p: ParsedInput, facts: readonly NewEvent[], map: SensitivityMap, c: MatchContext): NewEvent[] {
  return findMatches(p, facts, map).map(({ entry, strength }) => {
    const confidence = Math.round(entry.baselineConfidence * strength * 1000) / 1000;
    return {
      type: 'InterpretiveJudgment',
      data: {
        id: judgmentId(c.turn, entry.id),
        sceneId: c.sceneId,
        category: entry.category,
        subject: entry.subject,
        confidence,
        evidence: [c.inputId],
        description: entry.description.slice(0, 2_000),
        source: { kind: 'classifier', model: 'stage3-sensitivity' },
        provisional: true,
      },
      confidence,
      source: 'stage3',
    } satisfies NewEvent;
  });
}
