import type { Story } from '../domain/story/schema.ts';
import { affordanceVerbs } from '../domain/story/verb-synonyms.ts';

/**
 * `story check` warnings for affordance vocabularies that collide: two affordances of one
 * entity answering the same verb (the first would always win), or two entities a scene can
 * hold answering the same verb under a shared name word ("pull the lever" with two levers).
 *
 * @example
 * affordanceAmbiguities(story) // → ['scenes.the_mill: "pull" reaches both …']
 */
export function affordanceAmbiguities(story: Story): string[] {
  const out: string[] = [];
  story.entities.forEach((e, i) => {
    e.affordances.forEach((a, j) => {
      for (let k = j + 1; k < e.affordances.length; k++) {
        const b = e.affordances[k];
        if (!b) continue;
        const shared = [...affordanceVerbs(a)].filter((v) => affordanceVerbs(b).has(v));
        if (shared.length > 0) out.push(`entities[${i}] (${e.id}): affordances "${a.action}" and "${b.action}" both answer to ${shared.map((v) => `"${v}"`).join(', ')} — the first always wins`);
      }
    });
  });
  for (const scene of story.scenes) {
    const here = story.entities.filter((e) => e.location === scene.setting || (e.heldBy !== undefined && [...scene.cast.required, ...scene.cast.contingent.map((c) => c.character), 'player'].includes(e.heldBy)));
    for (let x = 0; x < here.length; x++) {
      for (let y = x + 1; y < here.length; y++) {
        const a = here[x];
        const b = here[y];
        if (!a || !b) continue;
        const words = (e: typeof a) => new Set([e.name, ...e.aliases].flatMap((n) => n.toLowerCase().split(/[^a-z0-9']+/)).filter((w) => w.length > 2 && w !== 'the'));
        const sharedName = [...words(a)].filter((w) => words(b).has(w));
        if (sharedName.length === 0) continue;
        const va = new Set(a.affordances.flatMap((f) => [...affordanceVerbs(f)]));
        const shared = [...new Set(b.affordances.flatMap((f) => [...affordanceVerbs(f)]))].filter((v) => va.has(v));
        if (shared.length > 0) out.push(`scenes.${scene.id}: "${shared[0]} the ${sharedName[0]}" could mean ${a.id} or ${b.id} (both answer to ${shared.map((v) => `"${v}"`).join(', ')}); give one a distinct name or verb`);
      }
    }
  }
  return out;
}
