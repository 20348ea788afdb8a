import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { resolveTestServices } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    amqpUrl: string;
    /** Unique per test run: prefix for databases, queues and exchanges the run creates. */
    runId: string;
  }
}

// Runs once per `vitest run`: finds the services and, at the end, drops every
// database this run created (tests create one fresh database per file).
export default async function setup(project: TestProject) {
  const services = await resolveTestServices();
  const runId = `st${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  project.provide('databaseUrl', services.databaseUrl);
  project.provide('amqpUrl', services.amqpUrl);
  project.provide('runId', runId);

  return async () => {
    const admin = new pg.Client({ connectionString: services.databaseUrl });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${runId}%`]);
      for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    } finally {
      await admin.end();
      await services.stop();
    }
  };
}
