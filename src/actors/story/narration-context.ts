import type { TurnRequest } from '../behaviour.ts';
import type { NarrationContext } from '../agents/narrator.ts';
import type { Beat } from '../agents/reconciler.ts';
import type { ParsedInput } from '../classifiers/stage1.ts';
import type { FactResult } from '../classifiers/stage2.ts';
import { describeAct, inventoryText, nameMap } from './describe-act.ts';
import type { WorldOutput } from './types.ts';
import { storykeeperOutputOf, truthOf, warmOf } from './warm.ts';

/** What the narrator is allowed to know this turn (the storykeeper's information boundary). */
export function narrationContext(req: TurnRequest, parsed: ParsedInput): NarrationContext {
  const w = warmOf(req.scene);
  const facts = (req.results.stage2?.output ?? null) as FactResult | null;
  const world = (req.results.world?.output ?? null) as WorldOutput | null;
  const sk = storykeeperOutputOf(req);
  const beatsOut = ((req.results.reconciler?.output ?? null) as { beats?: Beat[] } | null)?.beats ?? [];
  const names = nameMap(w);
  const hint = parsed.kind === 'meta' && (parsed.command === 'hint' || parsed.command === 'help') ? sk?.hint ?? w.narrator.hint : null;
  const inventory = parsed.kind === 'meta' && parsed.command === 'inventory' ? inventoryText(w, truthOf(req.truthSet), names) : null;
  return {
    kind: 'narrator',
    title: w.data.storyTitle,
    sceneName: w.data.scene.name,
    atmosphere: w.data.setting.atmosphere,
    playerText: req.input.text,
    act: inventory ?? (hint ? `Hint: ${hint}` : describeAct(parsed, facts, names, w.data.setting.atmosphere)),
    refusal: facts?.refusal?.text ?? null,
    examined: facts?.examined ? { name: facts.examined.name, description: facts.examined.description } : null,
    worldNotes: world?.notes ?? [],
    releases: (sk?.released ?? []).map((r) => ({ speaker: r.speaker ? names[r.speaker] ?? r.speaker : null, content: r.content })),
    beats: beatsOut.map((b) => ({ name: names[b.characterId] ?? b.characterId, kind: b.kind, text: b.text })),
    exit: sk?.exit?.text ?? null,
    ending: sk?.exit?.reason === 'ending',
  };
}
