import type { InspectionEvent, Observer } from 'xstate';

/**
 * The `debug` subscription's source: an xstate inspection observer on the engine's
 * session actors that forwards, for subscribed sessions only, every agent and stage
 * reply the session root receives (stage 1–3 outputs, each character's frame and
 * intent, the storykeeper's verdict, the narrator's result, timings in `ms`), plus the
 * story behaviour's frame reports (`kind: 'frame'`) and every LLM call's prompt and raw
 * reply (`kind: 'llm'`: role, provider, system, messages, reply, ms), both published by
 * serve. In stream order each arrives between its turn's `turn.started` and
 * `narrative.done`. Cheap when nobody listens: one Map lookup per inspection event.
 */
export interface DebugRecord {
  sessionId: string;
  kind: string;
  data: unknown;
}

export class DebugTap {
  readonly #listeners = new Map<string, Set<(record: DebugRecord) => void>>();

  readonly observer: Observer<InspectionEvent> = {
    next: (event) => {
      if (this.#listeners.size === 0 || event.type !== '@xstate.event') return;
      const id = (event.actorRef as { id?: unknown }).id;
      if (typeof id !== 'string') return;
      if (!id.startsWith('session:')) return;
      const sessionId = id.slice('session:'.length);
      const listeners = this.#listeners.get(sessionId);
      if (!listeners) return;
      const e = event.event as { type: string };
      if (e.type !== 'agent.done' && e.type !== 'persist.inputDurable' && e.type !== 'persist.eventsDurable') return;
      const record: DebugRecord = { sessionId, kind: e.type, data: e };
      for (const l of listeners) l(record);
    },
  };

  /** A record from outside the actor tree (the story behaviour's frames) for the session's subscribers. */
  publish(record: DebugRecord): void {
    const listeners = this.#listeners.get(record.sessionId);
    if (listeners) for (const l of listeners) l(record);
  }

  subscribe(sessionId: string, listener: (record: DebugRecord) => void): () => void {
    let set = this.#listeners.get(sessionId);
    if (!set) this.#listeners.set(sessionId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(sessionId);
    };
  }
}
