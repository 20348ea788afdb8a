import { z } from 'zod';
import type { LlmProvider } from '../../inference/llm/provider.ts';
import { jsonReply } from './json-reply.ts';
import type { Character } from '../../domain/story/schema.ts';
import type { CharacterPrediction, HistoryEntry } from '../../inference/frame/character-schema.ts';
import type { ParsedInput } from '../classifiers/stage1.ts';
import type { CharacterKnowledge } from './storykeeper.ts';
import { guardedPreface, reactionTo, type ActTone } from './reactions.ts';

/**
 * A character agent (domain.md: "Agents"): one per cast member. From its psychological
 * frame (the frame model's text), what it may know (the storykeeper's boundary) and the
 * player's act, the LLM of role `character` proposes an intent as structured JSON,
 * validated by zod. Invalid output, refusal or failure → a deterministic intent from the
 * character's authored lines, so the turn stays valid.
 *
 * @example
 * const { intent, degraded } = await characterIntent(router.forRole('character'), req, signal);
 */
export const characterIntentSchema = z.object({
  action: z.enum(['speak', 'act', 'gesture', 'wait']),
  speech: z.string().max(1_000).optional(),
  gesture: z.string().max(600).optional(),
  /** Whom or what the intent is directed at. */
  target: z.string().max(200).optional(),
  tone: z.enum(['warm', 'neutral', 'guarded', 'hostile', 'grieving', 'afraid']).default('neutral'),
});
export type CharacterIntent = z.infer<typeof characterIntentSchema>;

export const CHARACTER_JSON_SCHEMA: Record<string, unknown> = {
  type: 'object',
  required: ['action'],
  properties: {
    action: { type: 'string', enum: ['speak', 'act', 'gesture', 'wait'] },
    speech: { type: 'string', maxLength: 1000 },
    gesture: { type: 'string', maxLength: 600 },
    target: { type: 'string' },
    tone: { type: 'string', enum: ['warm', 'neutral', 'guarded', 'hostile', 'grieving', 'afraid'] },
  },
};

export interface CharacterTurn {
  character: Pick<Character, 'id' | 'name' | 'lines'> & Partial<Pick<Character, 'axes' | 'emotions'>>;
  knowledge: CharacterKnowledge | null;
  frameText: string;
  /** The decoded frame prediction the text was built from (null when the frame model failed this turn). */
  prediction?: CharacterPrediction | null;
  /** The character's prediction history before and after this turn's prediction (most recent first). */
  history?: { before: HistoryEntry[]; after: HistoryEntry[] } | null;
  parsed: ParsedInput | null;
  /** Turn number within the session and within the scene (1 = first turn of the scene). */
  turn: number;
  sceneTurn: number;
  /** First time the player meets this character (it greets on the scene's first turn). */
  firstMeeting: boolean;
  sceneName: string;
  /** Did the player's act touch this character (addressed, given to, named)? */
  addressed: boolean;
  /** Refusal text of a constraint this character caused (e.g. holding the item the player tried to take). */
  refusedByMe: boolean;
  /** The player's words touch one of this character's motivations (kept for LLM prompts; never a refusal by itself). */
  touchesMotivation?: boolean;
  /** An act the story did not author, and whether it was done to this character. */
  act?: { tone: ActTone; toMe: boolean } | null;
  /** The player hurt this character, or someone in front of them, earlier (durable). */
  wary?: boolean;
}

/**
 * The deterministic intent, from the character's authored lines and personality: a refusal
 * only when it stopped the player taking what it holds; the reaction to an act done to it;
 * its greeting once, on first meeting — followed by its reply when the player spoke to it;
 * then replies when addressed (guarded once the player has been violent), reactions to odd
 * or violent acts it saw, and now and then an idle gesture.
 */
export function fallbackIntent(t: CharacterTurn): CharacterIntent {
  const { lines, id } = t.character;
  const pick = (list: readonly string[]) => list[stableIndex(`${id}:${t.turn}`, list.length)];
  if (t.refusedByMe && lines.refusal.length > 0) return { action: 'speak', speech: pick(lines.refusal) as string, target: 'player', tone: 'guarded' };
  if (t.act?.toMe && t.act.tone !== 'odd') return reactionTo(t.character, t.act.tone, 'target');
  const reply = t.addressed && lines.reply.length > 0 ? (pick(lines.reply) as string) : null;
  if (t.sceneTurn === 1 && t.firstMeeting && lines.greeting.length > 0 && t.parsed?.kind !== 'meta') {
    const greeting = pick(lines.greeting) as string;
    // Greeted once; a player who spoke first also gets the answer.
    const spoke = t.addressed && (t.parsed?.kind === 'speech' || t.parsed?.kind === 'question');
    return { action: 'speak', speech: spoke && reply ? `${greeting}\n\n${reply}` : greeting, target: 'player', tone: 'neutral' };
  }
  if (t.act && t.act.tone === 'hostile') return reactionTo(t.character, 'hostile', 'witness');
  if (reply) return { action: 'speak', speech: t.wary ? `${guardedPreface(t.character)} ${reply}` : reply, target: 'player', tone: t.wary ? 'guarded' : 'neutral' };
  if (t.act && (t.act.toMe || t.act.tone === 'odd') && stableIndex(`${id}:react:${t.turn}`, 2) === 0) return reactionTo(t.character, t.act.tone, t.act.toMe ? 'target' : 'witness');
  if (lines.idle.length > 0 && stableIndex(`${id}:idle:${t.turn}`, 3) === 0) return { action: 'gesture', gesture: pick(lines.idle) as string, tone: 'neutral' };
  return { action: 'wait', tone: 'neutral' };
}

export async function characterIntent(llm: LlmProvider, t: CharacterTurn, signal?: AbortSignal): Promise<{ intent: CharacterIntent; degraded: boolean }> {
  const fallback = fallbackIntent(t);
  try {
    const response = await llm.complete({
      role: 'character',
      system:
        `You are ${t.character.name} in an interactive story. Stay in character; you know only what is listed. ` +
        'Answer with one JSON object: {"action":"speak|act|gesture|wait","speech"?,"gesture"?,"target"?,"tone"?}.',
      messages: [
        {
          role: 'user',
          content: [
            `Scene: ${t.sceneName}`,
            `Your frame:\n${t.frameText}`,
            t.knowledge ? `You know: ${JSON.stringify(t.knowledge.about)}` : '',
            t.parsed ? `The player (${t.parsed.kind}): ${t.parsed.raw}` : '',
            t.addressed ? 'The player is addressing you.' : 'The player is not addressing you.',
          ]
            .filter((x) => x.length > 0)
            .join('\n'),
        },
      ],
      maxTokens: 300,
      temperature: 0.7,
      jsonSchema: CHARACTER_JSON_SCHEMA,
      ...(signal ? { signal } : {}),
      context: { kind: 'character', characterId: t.character.id, fallback },
    });
    const parsed = characterIntentSchema.safeParse(jsonReply(response.text));
    if (!parsed.success) return { intent: fallback, degraded: true };
    return { intent: parsed.data, degraded: false };
  } catch (error) {
    if (signal?.aborted) throw error;
    return { intent: fallback, degraded: true };
  }
}

/** FNV-1a: a stable small hash for deterministic choices. */
export function stableIndex(key: string, n: number): number {
  if (n <= 0) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % n;
}
