import type { AgentActorInput } from './agent-actor.ts';

/**
 * The per-scene children of a session (issue 3 §3), spawned at the end of scene entry
 * and stopped at scene exit / suspension (which aborts whatever they run). Each gets a
 * `systemId` equal to its id, so `system.get('narrator')` finds it and the inspector
 * shows it by name: narrator, storykeeper, world, reconciler, character:<entityId>,
 * stage1..stage4.
 */
export interface SceneChildSpec {
  id: string;
  input: AgentActorInput;
}

const FIXED: readonly SceneChildSpec[] = [
  { id: 'stage1', input: { role: 'stage1' } },
  { id: 'stage2', input: { role: 'stage2' } },
  { id: 'stage3', input: { role: 'stage3' } },
  { id: 'stage4', input: { role: 'stage4' } },
  { id: 'storykeeper', input: { role: 'storykeeper' } },
  { id: 'world', input: { role: 'world' } },
  { id: 'reconciler', input: { role: 'reconciler' } },
  { id: 'narrator', input: { role: 'narrator' } },
];

/** The system id of a cast member's character agent. */
export function characterActorId(entityId: string): string {
  return `character:${entityId}`;
}

/** Every child of a scene with this cast, in spawn order. */
export function sceneChildSpecs(cast: readonly string[]): SceneChildSpec[] {
  return [...FIXED, ...cast.map((id) => ({ id: characterActorId(id), input: { role: 'character' as const, characterId: id } }))];
}

export function sceneChildIds(cast: readonly string[]): string[] {
  return sceneChildSpecs(cast).map((s) => s.id);
}
