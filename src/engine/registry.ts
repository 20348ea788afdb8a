import { createStore } from '@xstate/store';

/**
 * The engine's session registry and presence (issue 3 §7): flat state that needs no
 * statechart, so it is an `@xstate/store`. It holds plain presence data per running
 * session (the actors themselves live in the engine's Map: refs are not state).
 * Updated only when a session's top-level lifecycle or connection state changes, and
 * the engine coalesces one tick's changes into one `apply`, so a thousand sessions do
 * not copy the map a thousand times.
 *
 * @example
 * const registry = createSessionRegistry();
 * registry.subscribe((s) => console.log(Object.keys(s.context.sessions).length));
 */
export interface SessionPresence {
  lifecycle: string;
  connection: string;
  sceneKey: string | null;
  epoch: number;
  openedAt: number;
}

export function createSessionRegistry() {
  return createStore({
    context: { sessions: {} as Record<string, SessionPresence> },
    on: {
      upsert: (context, event: { id: string; presence: SessionPresence }) => ({
        sessions: { ...context.sessions, [event.id]: event.presence },
      }),
      /** Many changes in one copy (the engine coalesces a tick's presence changes). */
      apply: (context, event: { upserts: Record<string, SessionPresence>; removals: string[] }) => {
        const sessions = { ...context.sessions, ...event.upserts };
        for (const id of event.removals) delete sessions[id];
        return { sessions };
      },
      remove: (context, event: { id: string }) => {
        if (!(event.id in context.sessions)) return context;
        const sessions = { ...context.sessions };
        delete sessions[event.id];
        return { sessions };
      },
      clear: () => ({ sessions: {} as Record<string, SessionPresence> }),
    },
  });
}

export type SessionRegistry = ReturnType<typeof createSessionRegistry>;
