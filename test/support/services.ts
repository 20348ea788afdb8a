/**
 * How the test harness finds PostgreSQL and RabbitMQ:
 *   1. DATABASE_URL / AMQP_URL when set (CI and the build machines);
 *   2. otherwise testcontainers, when a Docker engine is reachable (a developer laptop);
 *   3. otherwise it stops with a message that says what to start.
 */
export interface TestServices {
  databaseUrl: string;
  /** Empty when RabbitMQ is neither configured nor startable: tests that need it call `requireAmqp`. */
  amqpUrl: string;
  stop(): Promise<void>;
}

/** The RabbitMQ URL for a test that needs one, or a clear error saying how to provide it. */
export function requireAmqp(amqpUrl: string): string {
  if (!amqpUrl) throw new Error(`TEST_SERVICES_MISSING: AMQP_URL not set and no Docker engine is reachable.\n${MISSING}`);
  return amqpUrl;
}

const MISSING = `The integration tests need PostgreSQL and RabbitMQ.
Either set DATABASE_URL and AMQP_URL, e.g.
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm test
or start a Docker engine so the tests can run them with testcontainers.`;

async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function resolveTestServices(env: NodeJS.ProcessEnv = process.env): Promise<TestServices> {
  if (env.DATABASE_URL && env.AMQP_URL) {
    return { databaseUrl: env.DATABASE_URL, amqpUrl: env.AMQP_URL, stop: async () => undefined };
  }
  const docker = await dockerAvailable();
  // PostgreSQL alone is enough for every test that does not talk to RabbitMQ (each such test asks with requireAmqp).
  if (env.DATABASE_URL && !docker) return { databaseUrl: env.DATABASE_URL, amqpUrl: '', stop: async () => undefined };
  if (!docker) {
    const which = [env.DATABASE_URL ? null : 'DATABASE_URL', env.AMQP_URL ? null : 'AMQP_URL'].filter(Boolean).join(' and ');
    throw new Error(`TEST_SERVICES_MISSING: ${which} not set and no Docker engine is reachable.\n${MISSING}`);
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
  const [pgContainer, mqContainer] = await Promise.all([
    env.DATABASE_URL ? null : new PostgreSqlContainer('postgres:15').start(),
    env.AMQP_URL ? null : new RabbitMQContainer('rabbitmq:3.13').start(),
  ]);
  return {
    databaseUrl: env.DATABASE_URL ?? pgContainer!.getConnectionUri(),
    amqpUrl: env.AMQP_URL ?? mqContainer!.getAmqpUrl(),
    async stop() {
      await Promise.all([pgContainer?.stop(), mqContainer?.stop()]);
    },
  };
}
