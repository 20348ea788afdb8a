import { createInterface } from 'node:readline';
import { PlayerClient } from '../gateway/player-client.ts';
import type { ServerFrame } from '../gateway/protocol.ts';

/**
 * `storyteller play --url ws://host:port/ws`: the terminal over the player protocol,
 * beside today's in-process play. What you type is never blocked: it is kept (in
 * `storePath`), sent, and shown as saved when acked; while the connection is down,
 * lines are kept and sent in order on reconnect. With piped input the program waits
 * for every line's answer before it exits.
 */
export interface RemotePlayOptions {
  url: string;
  storePath?: string;
  fresh?: boolean;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream & { isTTY?: boolean };
  backoffMaxMs?: number;
  /** Called with the client once it exists (tests watch its events). */
  onClient?: (client: PlayerClient) => void;
}

export async function playRemote(options: RemotePlayOptions): Promise<PlayerClient> {
  const out = options.output ?? process.stdout;
  const tty = out.isTTY === true;
  const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
  const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
  const write = (s: string) => out.write(s);
  const client = new PlayerClient({
    url: options.url,
    ...(options.storePath ? { storePath: options.storePath } : {}),
    ...(options.fresh ? { fresh: true } : {}),
    ...(options.backoffMaxMs ? { backoffMaxMs: options.backoffMaxMs } : {}),
  });
  let streamingInput: number | null = null;
  let lastSceneIndex: number | null = null;
  let ended = false;
  /** The last answer ended its scene: the next scene (or THE END) is still on its way. */
  let sceneEnding = false;
  const answered = new Set<string>();

  client.events.on('status', (s: string) => {
    if (s === 'offline') write(dim(`\n(offline — reconnecting; ${client.unanswered()} line(s) kept)\n`));
    if (s === 'ready') write(dim('(connected)\n'));
  });
  client.events.on('frame', (f: ServerFrame) => {
    switch (f.type) {
      case 'scene.entered':
        sceneEnding = false;
        if (f.sceneIndex === lastSceneIndex) return;
        lastSceneIndex = f.sceneIndex;
        write(`\n${bold(`── ${f.name ?? f.scene} ──`)}\n${f.description ?? ''}\n`);
        return;
      case 'ack':
        if (!f.duplicate) write(dim(`  (input #${f.inputId} saved)\n`));
        return;
      case 'narrative.chunk':
        if (streamingInput !== f.inputId) {
          streamingInput = f.inputId;
          write('\n');
        }
        write(f.text);
        return;
      case 'narrative.done':
        if (answered.has(f.clientInputId)) return;
        answered.add(f.clientInputId);
        sceneEnding = f.sceneEnds === true;
        if (streamingInput !== f.inputId) write(`\n${f.text ?? dim('(answered while you were away)')}`);
        streamingInput = null;
        write('\n');
        return;
      case 'deferred.applied':
        write(dim(`  ~ ${f.text}\n`));
        return;
      case 'gate.fired':
        write(dim(`  ◆ revealed: ${f.gateId}\n`));
        return;
      case 'goal.fired':
        write(dim(`  ★ goal complete: ${f.description}\n`));
        return;
      case 'hint':
        write(`${f.text ? `Hint: ${f.text}` : 'No hint here — look around, and talk to people.'}\n`);
        return;
      case 'saved':
        write(`Saved (checkpoint ${f.checkpointId.slice(0, 8)}).\n`);
        return;
      case 'session.state':
        if (f.lifecycle === 'ended' && !ended) {
          ended = true;
          write(`\n${bold('THE END')}\n`);
        }
        return;
      case 'error':
        write(dim(`(${f.clientInputId ? 'not accepted' : 'error'} — ${f.code}: ${f.message})\n`));
        return;
      default:
        return;
    }
  });
  options.onClient?.(client);
  await client.start();

  const rl = createInterface({ input: options.input ?? process.stdin, terminal: false });
  for await (const raw of rl) {
    const line = raw.trim();
    if (!line) continue;
    if (!tty) write(`> ${line}\n`);
    if (line === '/quit' || line === '/exit') break;
    if (line === '/help') {
      write('Talk and act in plain words. Commands: /hint (a nudge), /save (checkpoint), /help, /quit\n');
      continue;
    }
    if (line === '/hint' || line === '/save') {
      client.request({ type: line === '/hint' ? 'hint' : 'save' });
      continue;
    }
    client.input(line);
  }
  // End of input: wait for what is still on its way — answers, and after an answer that
  // ended its scene, the next scene or the story's end.
  // Checked after each frame, once the handler above has read it ('line' events come before
  // it, while `sceneEnding` still holds the previous answer's value).
  const settled = () => ended || (client.unanswered() === 0 && !sceneEnding);
  if (!settled()) {
    await new Promise<void>((resolve) => {
      const check = () => {
        if (settled()) {
          client.events.off('frame', check);
          resolve();
        }
      };
      client.events.on('frame', check);
    });
  }
  if (!ended) write(dim('\nYour place is kept. Goodbye.\n'));
  await client.close();
  return client;
}
