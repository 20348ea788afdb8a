import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './private-postgres.ts';

/**
 * A PRIVATE RabbitMQ node for outage tests (issue 13): its own node name, AMQP and
 * distribution ports, mnesia and log directories (owned by the `rabbitmq` user, whom the
 * Debian wrapper switches to), so a test may stop and start it without touching the
 * shared broker on :5672 (whose distribution port is 25672: never reuse it).
 */
const run = promisify(execFile);

export function privateRabbitUnavailable(): string | null {
  if (!existsSync('/usr/sbin/rabbitmq-server') || !existsSync('/usr/sbin/rabbitmqctl')) return 'rabbitmq-server/rabbitmqctl not installed';
  if (process.getuid?.() !== 0) return 'starting a private RabbitMQ node needs root (the wrapper switches to the rabbitmq user)';
  return null;
}

export class PrivateRabbit {
  readonly dir: string;
  readonly port: number;
  readonly node: string;
  readonly #env: NodeJS.ProcessEnv;

  private constructor(dir: string, port: number, distPort: number) {
    this.dir = dir;
    this.port = port;
    this.node = `outage${port}@localhost`;
    this.#env = {
      ...process.env,
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'plugins'),
      RABBITMQ_PID_FILE: join(dir, 'pid'),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    };
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  static async create(): Promise<PrivateRabbit> {
    const dir = await mkdtemp(join(tmpdir(), 'storyteller-rmq-'));
    const port = await freePort();
    let dist = await freePort();
    while (dist === port || dist === 25672) dist = await freePort();
    const r = new PrivateRabbit(dir, port, dist);
    await writeFile(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users.guest = true\n`);
    await writeFile(join(dir, 'plugins'), '[].\n');
    const { stdout: uid } = await run('id', ['-u', 'rabbitmq']);
    const { stdout: gid } = await run('id', ['-g', 'rabbitmq']);
    for (const p of [dir, join(dir, 'rabbitmq.conf'), join(dir, 'plugins')]) await chown(p, Number(uid.trim()), Number(gid.trim()));
    await chmod(dir, 0o755);
    await r.start();
    return r;
  }

  async start(): Promise<void> {
    await run('rabbitmq-server', ['-detached'], { env: this.#env, cwd: '/tmp' });
    // await_startup fails at once while the node has not registered with epmd yet: ask again.
    for (let attempt = 1; ; attempt++) {
      try {
        await run('rabbitmqctl', ['-n', this.node, '--timeout', '120', 'await_startup'], { env: this.#env, cwd: '/tmp' });
        return;
      } catch (error) {
        if (attempt >= 60) throw error;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** The whole node down (every connection and channel dropped); durable queues survive. */
  async stop(): Promise<void> {
    await run('rabbitmqctl', ['-n', this.node, 'stop'], { env: this.#env, cwd: '/tmp' });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async destroy(): Promise<void> {
    try {
      await this.stop();
    } catch {
      // not running
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
