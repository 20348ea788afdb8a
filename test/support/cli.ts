import { execFile } from 'node:child_process';

/** What a `storyteller` CLI run printed and how it exited. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI (`src/cli/main.ts`) as a child process, as a user's shell would: `env`
 * entries override the parent's (undefined removes one), `input` is piped to stdin.
 */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}, input?: string): Promise<CliResult> {
  const merged: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  const child = execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: merged, maxBuffer: 8 * 1024 * 1024 });
  child.stdin?.end(input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}
