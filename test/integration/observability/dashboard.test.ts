import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../../src/config.ts';
import { silentLogger } from '../../../src/logger.ts';
import { serve, type RunningServer } from '../../../src/gateway/serve.ts';
import { GatewaySocket } from '../../support/gateway-socket.ts';

/**
 * docs/grafana-dashboard.json only uses metrics the runtime registers: every metric name in
 * every PromQL expression of every panel must be served by `/metrics` of a real
 * `storyteller serve` (embedded PGlite, the production story wiring, in-process workflows,
 * the ownership lease) — the names are read from the exposition's `# TYPE` lines, so the
 * oracle is what Prometheus would scrape, not the registry objects.
 */
const target = z.object({ expr: z.string().min(1) });
interface PanelJson {
  title?: string;
  targets?: unknown[];
  panels?: PanelJson[];
}
const panelSchema: z.ZodType<PanelJson> = z.lazy(() => z.object({ title: z.string().optional(), targets: z.array(z.unknown()).optional(), panels: z.array(panelSchema).optional() }));
const dashboardSchema = z.object({ title: z.string(), uid: z.string(), panels: z.array(panelSchema).min(1) });

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'le', 'inf', 'nan']);

/** Metric names of a PromQL expression: identifiers that are not functions, keywords, labels, strings or durations. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\$\{?\w+\}?/g, ' ') // Grafana variables ($__rate_interval)
    .replace(/\[[^\]]*\]/g, ' ') // range selectors
    .replace(/\boffset\s+-?[0-9smhdwy]+/gi, ' ') // offset durations
    .replace(/(?<![A-Za-z0-9_:])\d[\d.]*(?:e[+-]?\d+)?/gi, ' ') // numbers (1e-9)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // grouping label lists
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?/g)) {
    const word = m[0].replace(/\s*\($/, '');
    if (m[1] !== undefined) continue; // a function or an aggregation
    if (PROMQL_WORDS.has(word.toLowerCase()) || /^\d/.test(word)) continue;
    names.add(word);
  }
  return [...names];
}

/** `panel: name` for each metric name not served (a `_bucket`/`_sum`/`_count` counts when its base is a histogram, `_sum`/`_count` for a summary). */
function unregistered(exprs: Array<{ panel: string; expr: string }>, exposed: Map<string, string>): string[] {
  const unknown: string[] = [];
  for (const { panel, expr } of exprs) {
    for (const name of metricNames(expr)) {
      const suffix = /_(bucket|sum|count)$/.exec(name)?.[1];
      const baseType = suffix ? exposed.get(name.slice(0, -suffix.length - 1)) : undefined;
      const ok = exposed.has(name) || baseType === 'histogram' || (baseType === 'summary' && suffix !== 'bucket');
      if (!ok) unknown.push(`${panel}: ${name}`);
    }
  }
  return unknown;
}

function expressions(panels: PanelJson[]): Array<{ panel: string; expr: string }> {
  return panels.flatMap((p) => [
    ...(p.targets ?? []).map((t) => ({ panel: p.title ?? '?', expr: target.parse(t).expr })),
    ...expressions(p.panels ?? []),
  ]);
}

describe('the Grafana dashboard', () => {
  let dir: string;
  let server: RunningServer;
  let exposed: Map<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dashboard-'));
    const config = loadConfig({ STORYTELLER_DATA_DIR: dir, STORYTELLER_PORT: '0', LOG_LEVEL: 'silent' });
    server = await serve(config, { logger: silentLogger });
    const text = await (await fetch(`${server.gateway.url}/metrics`)).text();
    exposed = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('extracts metric names from PromQL (the extractor itself)', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, step) (rate(storyteller_scene_entry_step_ms_bucket[$__rate_interval])))')).toEqual(['storyteller_scene_entry_step_ms_bucket']);
    expect(metricNames('sum by (role) (rate(a_total{outcome!="ok"}[5m])) / clamp_min(sum by (role) (rate(b_total[1h])), 1e-9)').sort()).toEqual(['a_total', 'b_total']);
    expect(metricNames('max by (instance) (x) > bool 3 and on (instance) y offset 5m')).toEqual(['x', 'y']);
  });

  it('uses only metric names that /metrics registers (histogram _bucket/_sum/_count included)', async () => {
    const dashboard = dashboardSchema.parse(JSON.parse(await readFile('docs/grafana-dashboard.json', 'utf8')));
    const exprs = expressions(dashboard.panels);
    expect(exprs.length).toBeGreaterThan(30);
    const used = new Set(exprs.flatMap(({ expr }) => metricNames(expr).map((n) => n.replace(/_(bucket|sum|count)$/, ''))));
    for (const { panel, expr } of exprs) expect(metricNames(expr).length, `${panel}: ${expr}`).toBeGreaterThan(0);
    const unknown = unregistered(exprs, exposed);
    expect(unknown).toEqual([]);
    // The alert-worthy figures of issue 13 each have a panel.
    for (const name of [
      'storyteller_gateway_ack_ms', 'storyteller_gateway_turn_ms', 'storyteller_scene_entry_step_ms', 'storyteller_ledger_batch_rows', 'storyteller_ledger_commit_wait_seconds',
      'storyteller_ledger_backlog_rows', 'storyteller_outbox_backlog', 'storyteller_outbox_oldest_age_seconds', 'storyteller_workflow_completion_lag_seconds',
      'storyteller_llm_tokens_total', 'storyteller_llm_cost_usd_total', 'storyteller_llm_fallbacks_total', 'storyteller_gateway_sessions', 'storyteller_sessions',
      'storyteller_lease_renewals_total', 'storyteller_lease_takeovers_total',
    ]) {
      expect(used, name).toContain(name);
    }
  });

  it('a played scene moves the figures: ack and turn latency, commit wait, backlog, sessions by state, lease renewals, completion lag', async () => {
    const s = await GatewaySocket.open(`ws://127.0.0.1:${server.gateway.port}/ws`);
    const ready = await s.start();
    const handle = server.engine.get(ready.sessionId);
    if (!handle) throw new Error('the session is not running here');
    const deferred = new Promise<void>((resolve) => handle.on('deferred.applied', () => resolve()));
    for (const [i, line] of ['look', 'ask Ewan about the light', 'go to the inn'].entries()) await s.play(`m-${i + 1}`, line);
    await s.next('scene.exited');
    await deferred; // the in-process runner finished the scene's deferred workflow
    const text = await (await fetch(`${server.gateway.url}/metrics`)).text();
    const sample = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      if (!line) throw new Error(`no sample ${series}`);
      return Number(line.slice(series.length + 1));
    };
    expect(sample('storyteller_gateway_ack_ms_count')).toBeGreaterThanOrEqual(3);
    expect(sample('storyteller_gateway_turn_ms_count')).toBeGreaterThanOrEqual(3);
    expect(sample('storyteller_turn_ms_count')).toBeGreaterThanOrEqual(3);
    expect(sample('storyteller_ledger_commit_wait_seconds_count{path="input"}')).toBeGreaterThanOrEqual(3);
    expect(sample('storyteller_ledger_commit_wait_seconds_count{path="events"}')).toBeGreaterThanOrEqual(1);
    expect(sample('storyteller_ledger_backlog_rows{path="input"}')).toBeGreaterThanOrEqual(0);
    expect(sample('storyteller_sessions{lifecycle="playing"}')).toBe(1);
    expect(sample('storyteller_gateway_sessions{state="active"}')).toBe(1);
    expect(sample('storyteller_lease_renewals_total{outcome="ok"}')).toBeGreaterThanOrEqual(1);
    expect(sample('storyteller_lease_held_sessions')).toBeLessThanOrEqual(1);
    expect(sample('storyteller_workflow_completion_lag_seconds_count{outcome="complete"}')).toBe(1);
    expect(sample('storyteller_outbox_backlog{kind="scene_exit",stage="unpublished"}')).toBe(0);
    expect(sample('storyteller_scene_entry_step_ms_count{step="loadSceneDefinition"}')).toBeGreaterThanOrEqual(2);
    s.ws.close();
  });

  it('the check fails on a name nobody registers and on a histogram suffix on a counter', () => {
    expect(exposed.get('storyteller_llm_tokens_total')).toBe('counter');
    const bad = [
      { panel: 'p1', expr: 'sum(rate(storyteller_no_such_metric_total[5m]))' },
      { panel: 'p2', expr: 'histogram_quantile(0.9, sum by (le) (rate(storyteller_llm_tokens_total_bucket[5m])))' },
      { panel: 'p3', expr: 'sum(rate(storyteller_gateway_ack_ms_count[5m]))' },
    ];
    expect(unregistered(bad, exposed)).toEqual(['p1: storyteller_no_such_metric_total', 'p2: storyteller_llm_tokens_total_bucket']);
  });
});
