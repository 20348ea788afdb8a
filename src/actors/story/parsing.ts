import { PLAYER_ID } from '../../domain/story/schema.ts';
import type { TruthSet } from '../../domain/truth-set.ts';
import type { TurnRequest, WarmScene } from '../behaviour.ts';
import { buildLexicon, parseInput, type Lexicon, type ParseContext, type ParsedInput } from '../classifiers/stage1.ts';
import { truthOf, warmOf, type Warm } from './warm.ts';

/**
 * Stage 1 as the story behaviour runs it: one lexicon per warm scene (built once), the
 * player's words parsed against it with pronouns resolved from the previous turn, and stage
 * 1's output read back by the later members (re-parsed if stage 1 failed: it is pure and cheap).
 */
export class StoryParser {
  readonly #lexicons = new WeakMap<object, Lexicon>();

  lexicon(scene: WarmScene): Lexicon {
    const key = scene.definition as object;
    const cached = this.#lexicons.get(key);
    if (cached) return cached;
    const w = warmOf(scene);
    const lexicon = buildLexicon({
      characters: w.entities.characters,
      objects: w.entities.objects,
      settings: [w.data.setting, ...w.data.adjacent, ...(w.data.places ?? []).filter((p) => p.id !== w.data.setting.id && !w.data.adjacent.some((a) => a.id === p.id))],
      absentCharacters: w.data.people ?? [],
      absentObjects: w.data.things ?? [],
    });
    this.#lexicons.set(key, lexicon);
    return lexicon;
  }

  parse(req: TurnRequest): ParsedInput {
    return parseInput(req.input.text, this.lexicon(req.scene), pronounContext(truthOf(req.truthSet), req.input.turn, warmOf(req.scene)));
  }

  /** Stage 1's output, or (if stage 1 failed and was replaced by a fallback) a fresh parse — it is pure and cheap. */
  parsedOf(req: TurnRequest): ParsedInput {
    const out = req.results.stage1?.output as ParsedInput | null | undefined;
    return out && typeof out === 'object' && typeof out.kind === 'string' ? out : this.parse(req);
  }
}

/** Who or what the previous turn was about, for "take it" / "ask her" (momentary propositions of that turn). */
export function pronounContext(ts: TruthSet, turn: number, w: Warm): ParseContext {
  if (ts.momentary.turn === turn) return {};
  const people = new Set(w.entities.characters.map((c) => c.id));
  const out: ParseContext = {};
  const props = [...ts.momentary.propositions].sort((a, b) => a.since - b.since);
  for (const p of props) {
    if (p.args[0] !== PLAYER_ID) continue;
    const target = p.predicate === 'did' ? p.args[2] : p.predicate === 'examined' || p.predicate === 'said' ? p.args[1] : undefined;
    if (!target) continue;
    if (people.has(target)) out.lastCharacter = target;
    else if (w.entities.objects.some((o) => o.id === target)) out.lastEntity = target;
  }
  return out;
}

