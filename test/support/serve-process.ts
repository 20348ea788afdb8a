import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/**
 * `storyteller serve` as a child process for the outage and rolling-restart tests: its own
 * process group (a SIGKILL of the group takes everything it started), the gateway port read
 * from its banner, its output kept for the failure message.
 */
export interface ServeProcess {
  child: ChildProcess;
  port: number;
  url: string;
  wsUrl: string;
  /** Everything it printed (stdout and stderr). */
  output(): string;
  /** Resolves when it exits: its code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Signals the whole process group. */
  signal(sig: NodeJS.Signals): void;
}

export function startServe(env: Record<string, string | undefined>, name = 'serve', onSpawn?: (child: ChildProcess) => void): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    // An undefined value removes the variable (the test runner's AMQP_URL, say).
    const merged: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, STORYTELLER_PORT: '0', STORYTELLER_FRAME_MODEL: 'rules', LOG_LEVEL: 'warn', ...env })) if (v !== undefined) merged[k] = v;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], {
      cwd: ROOT,
      env: merged,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    onSpawn?.(child);
    let out = '';
    let listening = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.length > 400_000) out = out.slice(-200_000);
      const m = listening ? null : /open http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) {
        listening = true;
        const port = Number(m[1]);
        resolve({
          child,
          port,
          url: `http://127.0.0.1:${port}`,
          wsUrl: `ws://127.0.0.1:${port}/ws`,
          output: () => out,
          exited,
          signal: (sig) => {
            try {
              if (child.pid !== undefined) process.kill(-child.pid, sig);
            } catch {
              // already gone
            }
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(({ code, signal }) => {
      if (!listening) reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${out.slice(-4000)}`));
    });
  });
}

/** SIGKILL to a child's whole process group (it was spawned detached). */
export function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** GET /readyz: true on 200. Null when the gateway does not answer. */
export async function readyz(url: string): Promise<boolean | null> {
  try {
    const res = await fetch(`${url}/readyz`);
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return null;
  }
}
