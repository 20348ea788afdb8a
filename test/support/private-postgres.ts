import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A PRIVATE PostgreSQL cluster for outage tests (issue 13): initdb into a temp dir as the
 * `postgres` user, its own port and socket directory, so a test may stop and restart it
 * without touching the shared server other tests use. `binDir()` is null when initdb is
 * not installed (the caller skips, saying so).
 */
const run = promisify(execFile);

const CANDIDATES = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/14/bin', '/usr/local/pgsql/bin'];

export function postgresBinDir(): string | null {
  return CANDIDATES.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl'))) ?? null;
}

/** Why the private cluster cannot be created here, or null when it can. */
export function privatePostgresUnavailable(): string | null {
  if (!postgresBinDir()) return `initdb/pg_ctl not found in ${CANDIDATES.join(', ')}`;
  if (process.getuid?.() === 0 && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser') && !existsSync('/usr/bin/runuser')) return 'running as root without runuser';
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class PrivatePostgres {
  readonly dir: string;
  readonly port: number;
  readonly #bin: string;

  private constructor(dir: string, port: number, bin: string) {
    this.dir = dir;
    this.port = port;
    this.#bin = bin;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get #data(): string {
    return join(this.dir, 'data');
  }

  /** `cmd` as the postgres user (PostgreSQL refuses to run as root). */
  async #asPostgres(cmd: string, args: string[]): Promise<string> {
    const root = process.getuid?.() === 0;
    const { stdout } = root ? await run('runuser', ['-u', 'postgres', '--', join(this.#bin, cmd), ...args]) : await run(join(this.#bin, cmd), args);
    return stdout;
  }

  static async create(): Promise<PrivatePostgres> {
    const bin = postgresBinDir();
    if (!bin) throw new Error(privatePostgresUnavailable() ?? 'no initdb');
    const dir = await mkdtemp(join(tmpdir(), 'storyteller-pg-'));
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    const pg = new PrivatePostgres(dir, await freePort(), bin);
    await pg.#asPostgres('initdb', ['-D', pg.#data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    await pg.start();
    return pg;
  }

  async start(): Promise<void> {
    // fsync off: this cluster is thrown away; a restart is a clean shutdown, so nothing is lost.
    await this.#asPostgres('pg_ctl', ['-D', this.#data, '-l', join(this.dir, 'log'), '-w', '-t', '60', '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  }

  /** Fast shutdown: every connection is terminated (as an operator's restart does). */
  async stop(): Promise<void> {
    await this.#asPostgres('pg_ctl', ['-D', this.#data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  }

  async restart(): Promise<void> {
    await this.#asPostgres('pg_ctl', ['-D', this.#data, '-m', 'fast', '-l', join(this.dir, 'log'), '-w', '-t', '60', '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'restart']);
  }

  async destroy(): Promise<void> {
    try {
      await this.stop();
    } catch {
      // already stopped
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
