/**
 * How the test harness finds PostgreSQL and RabbitMQ:
 *   1. DATABASE_URL / AMQP_URL when set (CI and the build machines);
 *   2. otherwise testcontainers, when a Docker engine is reachable (a developer laptop);
 *   3. otherwise it stops with a message that says what to start.
 */
export interface TestServices {
  databaseUrl: string;
  amqpUrl: string;
  stop(): Promise<void>;
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
  if (!(await dockerAvailable())) {
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
