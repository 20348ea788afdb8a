import type { InspectionEvent, Observer } from 'xstate';
import { createWebSocketInspector } from '@statelyai/inspect';
import { createLocalInspectorServer } from './inspector-server.ts';

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

/**
 * `host` defaults to 127.0.0.1 (issue 15): the relay hands player text to whoever
 * connects, so exposing it (`STORYTELLER_INSPECT_HOST`) is an explicit, unsafe choice.
 */
export function startInspector(options: { port: number; host?: string }): SessionInspector {
  const host = options.host ?? '127.0.0.1';
  const server = createLocalInspectorServer({ host, port: options.port });
  const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const wsUrl = `ws://${local}:${options.port}`;
  const inspector = createWebSocketInspector({ url: wsUrl });
  return {
    inspect: inspector.inspect,
    url: `http://${local}:${options.port}`,
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
    const host = env.STORYTELLER_INSPECT_HOST?.trim() || '127.0.0.1';
    shared = startInspector({ port: Number.isInteger(port) && port > 0 ? port : 8383, host });
    const exposed = host !== '127.0.0.1' && host !== 'localhost' && host !== '::1';
    process.stderr.write(
      exposed
        ? `storyteller: Stately inspector listening on ${host}:${port} — UNSAFE: it relays player text to anyone who connects\n`
        : `storyteller: Stately inspector at ${shared.url} (local only; open it in a browser)\n`,
    );
  }
  return shared;
}
