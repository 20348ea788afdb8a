import type { StageResult } from '../actors/behaviour.ts';
import { event, type NewEvent } from '../domain/events.ts';
import type { CurrentTurn } from './session-types.ts';

/**
 * Ledger metadata for a turn's effects. Every key derives from the PlayerInput's ledger
 * id, so re-running the turn after a crash writes each effect once (the ledger skips a
 * repeated idempotency key and returns the original row).
 */
export function stamp(events: readonly NewEvent[], meta: { sceneId: string | null; turn: number; inputId: number; member: string }): NewEvent[] {
  return events.map(
    (e, i) =>
      ({
        ...e,
        sceneId: meta.sceneId,
        turn: meta.turn,
        inputId: meta.inputId,
        idempotencyKey: `input:${meta.inputId}:${meta.member}:${i}`,
      }) as NewEvent,
  );
}

/** The turn's events in a fixed order (stage 2, stage 3, characters by id, storykeeper, world, reconciler, narrator) + TurnCompleted. */
export function turnEvents(
  current: CurrentTurn,
  sceneId: string | null,
  narratorEvents: readonly NewEvent[],
  sceneExit: { reason: string; nextSceneKey: string | null } | null = null,
): NewEvent[] {
  const { input, results } = current;
  const meta = (member: string) => ({ sceneId, turn: input.turn, inputId: input.inputId, member });
  const out: NewEvent[] = [];
  const add = (member: string, r: StageResult | undefined): void => {
    if (r && r.events.length > 0) out.push(...stamp(r.events, meta(member)));
  };
  add('stage2', results.stage2);
  add('stage3', results.stage3);
  for (const id of Object.keys(results.characters ?? {}).sort()) add(`character:${id}`, results.characters?.[id]);
  add('storykeeper', results.storykeeper);
  add('world', results.world);
  add('reconciler', results.reconciler);
  if (narratorEvents.length > 0) out.push(...stamp(narratorEvents, meta('narrator')));
  out.push(
    event(
      'TurnCompleted',
      {
        inputId: input.inputId,
        turn: input.turn,
        degraded: current.degraded.map((d) => d.member),
        ...(sceneExit ? { sceneExit: { reason: sceneExit.reason.slice(0, 64), nextSceneKey: sceneExit.nextSceneKey } } : {}),
      },
      { source: 'session', sceneId, turn: input.turn, inputId: input.inputId, idempotencyKey: `input:${input.inputId}:turn-completed` },
    ),
  );
  return out;
}
