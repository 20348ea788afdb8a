/**
 * Where the AGE contract run finds PostgreSQL with Apache AGE, following services.ts:
 *   1. AGE_DATABASE_URL when set (e.g. the docker-compose `postgres` service:
 *      AGE_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5455/storyteller);
 *   2. otherwise testcontainers with the `apache/age` image when a Docker engine is reachable;
 *   3. otherwise null — the AGE suites report themselves skipped, with the reason.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface AgeServer {
  url: string;
  stop(): Promise<void>;
}

/** The image docker-compose.yml runs (kept in step with it). */
export const AGE_IMAGE = 'apache/age:release_PG16_1.5.0';

export async function resolveAgeServer(env: NodeJS.ProcessEnv = process.env): Promise<AgeServer | null> {
  if (env.AGE_DATABASE_URL) return { url: env.AGE_DATABASE_URL, stop: async () => undefined };
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
  } catch {
    return null;
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer(AGE_IMAGE).start();
  return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
}

/** A fresh database on the AGE server (dropped by `drop`). */
export async function createAgeDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(serverUrl);
  const name = `st_age_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base.toString() });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
