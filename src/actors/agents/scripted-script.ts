import type { CompletionRequest } from '../../inference/llm/provider.ts';
import { defaultScript } from '../../inference/llm/scripted.ts';
import { composeNarration, type NarrationContext } from './narrator.ts';

/**
 * The story-aware script for `ScriptedProvider` (the offline default for every role):
 * deterministic, readable output built only from `req.context`, so a person can play
 * a story to its end without any model.
 *   - narrator: the turn's prose (`composeNarration`): the world's answer, released gate
 *     content, the characters' reconciled lines, departure or ending prose;
 *   - character: the deterministic intent the agent computed from the character's
 *     authored lines (`context.fallback`), as JSON;
 *   - stage4: confirms each provisional judgment, a little more confident when the
 *     player's words carry it;
 *   - classifier: the rules' own decomposition back (so `classifier=scripted` changes nothing);
 *   - anything else: the provider's neutral default.
 *
 * @example
 * const provider = new ScriptedProvider({ script: storyScript });
 */
export function storyScript(req: CompletionRequest): string {
  const c = req.context ?? {};
  switch (c.kind) {
    case 'narrator':
      return composeNarration(c as unknown as NarrationContext);
    case 'character':
      return JSON.stringify(c.fallback ?? { action: 'wait' });
    case 'stage4': {
      const provisional = Array.isArray(c.provisional) ? (c.provisional as Array<{ id: string; category: string; subject?: string; confidence: number; description: string }>) : [];
      return JSON.stringify({
        judgments: provisional.map((p) => ({
          replaces: p.id,
          category: p.category,
          ...(p.subject ? { subject: p.subject } : {}),
          confidence: Math.min(1, Math.round((p.confidence + 0.1) * 1000) / 1000),
          description: `${p.description} (confirmed on reflection)`,
        })),
      });
    }
    case 'classifier':
      return JSON.stringify({ clauses: Array.isArray(c.rules) ? c.rules : [] });
    default:
      return defaultScript(req);
  }
}
