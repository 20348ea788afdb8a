import { z } from 'zod';
import { sceneBoundaryContext, type SceneBoundaryContext } from '../task-request.ts';
import type { StepContext } from './step-handler.ts';

/** The task context, validated (a foreign or malformed task fails permanently, not forever). */
export function sceneContext(ctx: StepContext): SceneBoundaryContext | string {
  const parsed = sceneBoundaryContext.safeParse(ctx.inputData);
  return parsed.success ? parsed.data : `task context: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`;
}

export const relationalShift = z.object({ from: z.string(), to: z.string(), dimension: z.enum(['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt']), delta: z.number() });
export type RelationalShift = z.infer<typeof relationalShift>;

/** The result of deferred_event_resolution, as its dependants read it. */
export const resolvedScene = z.object({
  scene_id: z.string(),
  story_id: z.string(),
  cast: z.array(z.string()),
  shifts: z.array(relationalShift),
  event_count: z.number().int(),
  characters: z.array(z.string()),
});
export type ResolvedScene = z.infer<typeof resolvedScene>;
