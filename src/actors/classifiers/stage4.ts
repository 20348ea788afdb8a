import { z } from 'zod';
import { judgmentCategory, type NewEvent } from '../../domain/events.ts';
import type { LlmProvider } from '../../inference/llm/provider.ts';
import { jsonReply } from '../agents/json-reply.ts';

/**
 * Stage 4 — deep interpretation (domain.md: "Classification stages", 0.5–2 s, async).
 * The provisional judgments of stage 3 and the turn's text go to the LLM of role
 * `stage4`, which answers with structured JSON (validated by zod): refined judgments,
 * each replacing a provisional one by id. It runs beside agent coordination and never
 * delays the answer; its events take effect from the next turn. Invalid output yields
 * no refinements (the provisional judgments stand).
 *
 * @example
 * const events = await deepInterpretation(router.forRole('stage4'), { text, provisional, turn, sceneId, inputId }, signal);
 */
export interface Stage4Input {
  text: string;
  provisional: Array<{ id: string; category: string; subject?: string; confidence: number; description: string }>;
  turn: number;
  sceneId: string;
  inputId: number;
  sceneKey: string;
}

export const refinedJudgmentsSchema = z.object({
  judgments: z
    .array(
      z.object({
        replaces: z.string().min(1).max(200),
        category: judgmentCategory,
        subject: z.string().min(1).max(200).optional(),
        confidence: z.number().min(0).max(1),
        description: z.string().max(2_000),
      }),
    )
    .max(16),
});
export type RefinedJudgments = z.infer<typeof refinedJudgmentsSchema>;

export const STAGE4_JSON_SCHEMA: Record<string, unknown> = {
  type: 'object',
  required: ['judgments'],
  properties: {
    judgments: {
      type: 'array',
      maxItems: 16,
      items: {
        type: 'object',
        required: ['replaces', 'category', 'confidence', 'description'],
        properties: {
          replaces: { type: 'string' },
          category: { type: 'string', enum: judgmentCategory.options },
          subject: { type: 'string' },
          confidence: { type: 'number', minimum: 0, maximum: 1 },
          description: { type: 'string' },
        },
      },
    },
  },
};

export async function deepInterpretation(llm: LlmProvider, input: Stage4Input, signal?: AbortSignal): Promise<NewEvent[]> {
  if (input.provisional.length === 0) return [];
  const started = Date.now();
  const response = await llm.complete({
    role: 'stage4',
    system:
      'You refine provisional interpretive judgments about a player turn in interactive fiction. ' +
      'Reply with JSON only: {"judgments":[{"replaces","category","subject","confidence","description"}]}.',
    messages: [{ role: 'user', content: `Player said/did: ${input.text}\nProvisional judgments:\n${JSON.stringify(input.provisional)}` }],
    maxTokens: 600,
    temperature: 0,
    jsonSchema: STAGE4_JSON_SCHEMA,
    ...(signal ? { signal } : {}),
    context: { kind: 'stage4', ...input },
  });
  let parsed: RefinedJudgments;
  try {
    parsed = refinedJudgmentsSchema.parse(jsonReply(response.text));
  } catch {
    return [];
  }
  const known = new Set(input.provisional.map((p) => p.id));
  const latencyMs = Date.now() - started;
  return parsed.judgments
    .filter((j) => known.has(j.replaces))
    .map((j) => ({
      type: 'InterpretiveJudgment',
      data: {
        id: `${j.replaces}:refined`.slice(0, 200),
        sceneId: input.sceneId,
        category: j.category,
        ...(j.subject ? { subject: j.subject } : {}),
        confidence: j.confidence,
        evidence: [input.inputId],
        description: j.description,
        source: { kind: 'classifier', model: `${response.provider}/${response.model}`, latencyMs },
        provisional: false,
        replaces: j.replaces,
      },
      confidence: j.confidence,
      source: 'stage4',
    }) satisfies NewEvent);
}
