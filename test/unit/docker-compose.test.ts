import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { envSchema, loadConfig } from '../../src/config.ts';
import { llmEnvSchema, loadLlmConfig } from '../../src/inference/llm/config.ts';

/**
 * docker-compose.yml and the Dockerfile, without a Docker engine (none runs on the build
 * machines): the file is parsed with `yaml` and checked for the services, health checks,
 * ports and the variables each service needs — each engine's environment is run through
 * the real configuration schema — and every variable the engine reads is documented.
 */
const healthcheck = z.object({ test: z.union([z.array(z.string()).min(1), z.string().min(1)]), interval: z.string(), timeout: z.string(), retries: z.number().int().positive() });
const service = z.object({
  image: z.string().optional(),
  build: z.union([z.string(), z.object({ context: z.string() })]).optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  ports: z.array(z.string()).optional(),
  volumes: z.array(z.string()).optional(),
  healthcheck,
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
});
const composeSchema = z.object({ services: z.record(z.string(), service), volumes: z.record(z.string(), z.unknown().nullable()) });
type Service = z.infer<typeof service>;

/** `${NAME:-default}` → default (what compose substitutes when NAME is unset); `${NAME:?…}` → ''. */
function substituted(value: string | number | boolean): string {
  return String(value).replace(/\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}/g, (_m, _name: string, fallback: string | undefined) => fallback ?? '');
}

function env(s: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, substituted(v)]));
}

function containerPorts(s: Service): Array<{ host: string; container: number }> {
  return (s.ports ?? []).map((p) => {
    const m = /^(.*):(\d+)$/.exec(p);
    if (!m) throw new Error(`port mapping ${p} is not host:container`);
    return { host: substituted(m[1]!), container: Number(m[2]) };
  });
}

const testText = (s: Service): string => (Array.isArray(s.healthcheck.test) ? s.healthcheck.test.join(' ') : s.healthcheck.test);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

describe('docker-compose.yml', async () => {
  const compose = composeSchema.parse(parse(await readFile('docker-compose.yml', 'utf8')));
  const services = compose.services;
  const engines = Object.keys(services).filter((n) => n.startsWith('engine-'));
  const known = new Set([...Object.keys(envSchema.shape), ...Object.keys(llmEnvSchema.shape), 'NODE_ENV']);

  it('has PostgreSQL with AGE, RabbitMQ with the management UI, the local Tasker runner and two engines, each health-checked', () => {
    expect(Object.keys(services).sort()).toEqual(['engine-1', 'engine-2', 'postgres', 'rabbitmq', 'tasker']);
    expect(services.postgres!.image).toMatch(/^apache\/age:/);
    expect(testText(services.postgres!)).toContain('pg_isready');
    expect(services.rabbitmq!.image).toMatch(/management/);
    expect(containerPorts(services.rabbitmq!).map((p) => p.container).sort()).toEqual([15672, 5672]);
    expect(engines).toHaveLength(2);
    for (const name of Object.keys(services)) expect(services[name]!.healthcheck.retries, name).toBeGreaterThan(0);
  });

  it('every named volume a service mounts is declared', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) expect(Object.keys(compose.volumes), `${name}: ${v}`).toContain(source);
      }
    }
  });

  it('the engines are built from this checkout, serve, and are health-checked on /readyz of their own port', async () => {
    const dockerfile = await readFile('Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "bin\/storyteller.js"\]/);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/readyz/);
    const hostPorts = new Set<string>();
    for (const name of engines) {
      const s = services[name]!;
      expect(s.build, name).toBe('.');
      expect(s.command, name).toEqual(['serve']);
      const e = env(s);
      const port = Number(e.STORYTELLER_PORT);
      expect(testText(s), name).toContain(`127.0.0.1:${port}/readyz`);
      expect(e.STORYTELLER_HOST, name).toBe('0.0.0.0');
      const mapped = containerPorts(s);
      expect(mapped.map((p) => p.container), name).toEqual([port]);
      hostPorts.add(mapped[0]!.host);
      expect(Object.entries(s.depends_on ?? {}).map(([d, c]) => `${d}:${c.condition}`).sort(), name).toEqual(['postgres:service_healthy', 'rabbitmq:service_healthy', 'tasker:service_healthy']);
    }
    expect(hostPorts.size).toBe(engines.length);
  });

  it('each service has the variables it needs, pointing at the other services', () => {
    const pg = env(services.postgres!);
    const tasker = services.tasker!;
    expect(tasker.command).toEqual(['tasker-local']);
    const taskerPort = Number(env(tasker).STORYTELLER_TASKER_LOCAL_PORT);
    expect(testText(tasker)).toContain(`127.0.0.1:${taskerPort}/health`);
    expect(containerPorts(tasker).map((p) => p.container)).toEqual([taskerPort]);
    for (const name of ['tasker', ...engines]) {
      const e = env(services[name]!);
      const db = new URL(e.DATABASE_URL ?? '');
      expect([db.hostname, db.port, db.username, db.password, db.pathname], name).toEqual(['postgres', '5432', pg.POSTGRES_USER, pg.POSTGRES_PASSWORD, `/${pg.POSTGRES_DB}`]);
      expect(new URL(e.AMQP_URL ?? '').hostname, name).toBe('rabbitmq');
      expect(e.STORYTELLER_GRAPH_STORE, name).toBe('age');
      // No misspelt variable: every one set is one the runtime reads.
      for (const key of Object.keys(e)) expect(known, `${name}: ${key}`).toContain(key);
    }
    const ids = new Set<string>();
    const secrets = new Set<string>();
    for (const name of engines) {
      const e = env(services[name]!);
      expect(e.NODE_ENV, name).toBe('production');
      expect(e.STORYTELLER_WORKFLOW_TRANSPORT, name).toBe('rest');
      const tasker = new URL(e.STORYTELLER_TASKER_URL ?? '');
      expect([tasker.hostname, Number(tasker.port)], name).toEqual(['tasker', taskerPort]);
      ids.add(e.STORYTELLER_INSTANCE_ID ?? '');
      secrets.add(String(services[name]!.environment?.STORYTELLER_GATEWAY_SECRET));
      // The real configuration schemas accept the environment (a secret supplied as the operator must).
      const config = loadConfig({ ...e, STORYTELLER_GATEWAY_SECRET: 's'.repeat(40) });
      expect(config.workflows.taskerUrl).toBe(e.STORYTELLER_TASKER_URL);
      expect(() => loadLlmConfig(e)).not.toThrow();
    }
    expect(ids.size, 'distinct instance ids').toBe(engines.length);
    expect(secrets.size, 'one gateway secret shared by every instance').toBe(1);
  });

  it('every variable the engine reads is documented (README.md or docs/operations.md)', async () => {
    const read = new Set(known);
    for (const file of await sources('src')) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/\b(?:process\.env|env)(?:\.([A-Z][A-Z0-9_]+)|\[['"]([A-Z][A-Z0-9_]+)['"]\])/g)) read.add((m[1] ?? m[2])!);
    }
    expect(read.size).toBeGreaterThan(50);
    const docs = (await readFile('README.md', 'utf8')) + (await readFile('docs/operations.md', 'utf8'));
    // A name counts as documented when it appears as code (`NAME`, or a table cell naming NAME / _SUFFIX forms).
    const documented = (name: string): boolean => {
      if (docs.includes(`\`${name}\``) || docs.includes(`${name}=`)) return true;
      // README rows like `STORYTELLER_GATEWAY_RATE_PER_S` / `_RATE_BURST`.
      const parts = name.split('_');
      for (let i = 1; i < parts.length; i += 1) if (docs.includes(`\`_${parts.slice(i).join('_')}\``) && docs.includes(`\`${parts.slice(0, i).join('_')}_`)) return true;
      return false;
    };
    expect([...read].filter((n) => !documented(n)).sort()).toEqual([]);
  });
});
