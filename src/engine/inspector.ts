import type { InspectionEvent, Observer } from 'xstate';
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';

/**
 * Live statecharts for developers (issue 3 §8): `npm start -- --inspect` or
 * `STORYTELLER_INSPECT=1` starts @statelyai/inspect's local inspector server and
 * attaches every session root actor (or the ones `sessions` selects) through a
 * WebSocket inspector. Open http://localhost:<port> (default 8383) in a browser.
 *
 * Never the sky inspector: it would send player text off the machine. The inspection
 * events go only to the local WebSocket server; the browser page it serves embeds
 * the Stately inspector UI, which receives them by postMessage inside the browser.
 *
 * @example
 * const inspector = startInspector({ port: 8383 });
 * const engine = new SessionEngine({ db, behaviour, inspect: inspector.inspect });
 */
export interface SessionInspector {
  /** Observer to pass as `inspect` to createActor (the engine does). */
  inspect: Observer<InspectionEvent>;
  /** Page to open in a browser. */
  url: string;
  /** WebSocket address the events are relayed on. */
  wsUrl: string;
  stop(): void;
}

export function startInspector(options: { port: number; autoOpen?: boolean }): SessionInspector {
  const server = createInspectorServer({ port: options.port, autoOpen: options.autoOpen ?? false });
  const wsUrl = `ws://localhost:${options.port}`;
  const inspector = createWebSocketInspector({ url: wsUrl });
  return {
    inspect: inspector.inspect,
    url: `http://localhost:${options.port}`,
    wsUrl,
    stop() {
      inspector.stop();
      server.stop();
    },
  };
}

let shared: SessionInspector | null = null;

/**
 * The process's inspector when asked for: `STORYTELLER_INSPECT=1` (port
 * `STORYTELLER_INSPECT_PORT`, default 8383) or `--inspect` among the CLI arguments
 * (e.g. `npm start -- --inspect`). Null otherwise. Started once per process and shared by
 * every engine in it.
 */
/** `STORYTELLER_INSPECT_SESSION`: inspect only that session (null: every session). */
export function inspectedSessionFromEnvironment(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.STORYTELLER_INSPECT_SESSION?.trim() || null;
}

export function inspectorFromEnvironment(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv): SessionInspector | null {
  const flag = ['1', 'true', 'yes'].includes((env.STORYTELLER_INSPECT ?? '').toLowerCase()) || argv.slice(2).includes('--inspect');
  if (!flag) return null;
  if (!shared) {
    const port = Number(env.STORYTELLER_INSPECT_PORT ?? 8383);
    shared = startInspector({ port: Number.isInteger(port) && port > 0 ? port : 8383 });
    process.stderr.write(`storyteller: Stately inspector at ${shared.url} (local only; open it in a browser)\n`);
  }
  return shared;
}
