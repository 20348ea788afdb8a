import { z } from 'zod';
import { deferredEffectSchema } from '../domain/propositions.ts';

/**
 * One short line for the player when a deferred scene-boundary result arrives mid-play (the
 * `deferred.applied` session event): what rippled toward the player and who moved on
 * off-screen. Null when nothing in it is the player's to see (world bookkeeping only).
 * The terminal and the gateway (its `deferred.applied` frame) print the same line.
 *
 * @example
 * describeDeferred({ effects: [{ kind: 'relationship', from: 'tobias', to: 'player', dimension: 'trust_reliability', delta: 0.06 }] })
 * // 'Word travels: Tobias trusts you more.'
 */
const resultShape = z.object({ effects: z.array(z.unknown()).max(1_000) });
const PLAYER = 'player';
/** Shifts smaller than this are not worth a line. */
const NOTICEABLE = 0.005;

const PHRASES: Record<'trust' | 'affection' | 'debt', [up: string, down: string]> = {
  trust: ['trusts you more', 'trusts you less'],
  affection: ['is warmer toward you', 'is cooler toward you'],
  debt: ['feels more in your debt', 'feels less in your debt'],
};

export function titleCaseId(id: string): string {
  return id.split(/[_\s-]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ');
}

export function describeDeferred(result: unknown, nameOf: (entityId: string) => string = titleCaseId): string | null {
  const parsed = resultShape.safeParse(result);
  if (!parsed.success) return null;
  const toward = new Map<string, Record<'trust' | 'affection' | 'debt', number>>();
  const movedOn: string[] = [];
  for (const raw of parsed.data.effects) {
    const e = deferredEffectSchema.safeParse(raw);
    if (!e.success) continue;
    const x = e.data;
    if (x.kind === 'relationship' && x.to === PLAYER && x.from !== PLAYER) {
      const group = x.dimension.startsWith('trust') ? 'trust' : x.dimension === 'affection' ? 'affection' : 'debt';
      const sums = toward.get(x.from) ?? { trust: 0, affection: 0, debt: 0 };
      sums[group] += x.delta;
      toward.set(x.from, sums);
    } else if (x.kind === 'accumulator') {
      const m = /^offscreen:([^:]+):goal_progress$/.exec(x.key);
      if (m && x.delta > 0 && !movedOn.includes(m[1] as string)) movedOn.push(m[1] as string);
    }
  }
  const parts: string[] = [];
  for (const [from, sums] of toward) {
    for (const group of ['trust', 'affection', 'debt'] as const) {
      const d = sums[group];
      if (Math.abs(d) >= NOTICEABLE) parts.push(`${nameOf(from)} ${PHRASES[group][d > 0 ? 0 : 1]}`);
    }
  }
  const sentences: string[] = [];
  if (parts.length > 0) sentences.push(`Word travels: ${parts.slice(0, 4).join('; ')}.`);
  if (movedOn.length > 0) {
    const names = movedOn.slice(0, 3).map(nameOf);
    const extra = movedOn.length - names.length;
    const list = extra > 0 ? `${names.join(', ')} and ${extra} more` : names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
    sentences.push(`Elsewhere, ${list} went about their own business.`);
  }
  return sentences.length > 0 ? sentences.join(' ') : null;
}
