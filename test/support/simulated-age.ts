/**
 * A pure in-memory stand-in for Apache AGE, for unit tests on machines without AGE.
 * It answers exactly the Cypher templates of `CYPHER` and the store's few SQL statements
 * (the label-table fork, the statistics check; anything else fails the test),
 * checks the SQL wrapper and the agtype parameter map, and renders results as AGE's
 * agtype TEXT (`{…}::vertex`, `::edge`, escaped strings) so AgeGraphStore's parsing,
 * assembly, ordering and update logic run for real. It does NOT show that AGE itself
 * accepts the Cypher — only the contract run against a real AGE (AGE_DATABASE_URL) does.
 */
import type { Queryable, QueryResult } from '../../src/persistence/database.ts';
import type { AgeConnections } from '../../src/persistence/graph/age-connections.ts';
import { AGE_GRAPH, CYPHER, ID_LIST_SIZES, type IdListSize } from '../../src/persistence/graph/age-cypher.ts';
import { forkScopeSql, insertVerticesSql, updateVerticesSql, upsertEdgesSql } from '../../src/persistence/graph/age-label-tables.ts';
import { EDGE_SHAPES } from '../../src/persistence/graph/age-graph-store.ts';
import { EDGE_LABELS, VERTEX_LABELS, type EdgeLabel, type VertexLabel } from '../../src/persistence/graph/graph-store.ts';

type Props = Record<string, unknown>;
interface V { gid: number; label: VertexLabel; props: Props }
interface E { gid: number; label: EdgeLabel; start: number; end: number; props: Props }
type Row = Record<string, string>;

/** AGE's escape_agtype: JSON escapes, other control characters as \u00XX, the rest raw. */
export function agString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

export function agValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return agString(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(agValue).join(', ')}]`;
  return `{${Object.entries(v as Props)
    .map(([k, x]) => `${agString(k)}: ${agValue(x)}`)
    .join(', ')}}`;
}

const vertexText = (v: V) => `{"id": ${v.gid}, "label": ${agString(v.label)}, "properties": ${agValue(v.props)}}::vertex`;
const edgeText = (e: E) =>
  `{"id": ${e.gid}, "label": ${agString(e.label)}, "end_id": ${e.end}, "start_id": ${e.start}, "properties": ${agValue(e.props)}}::edge`;

const SQL_SHAPE = new RegExp(`^SELECT \\* FROM ag_catalog\\.cypher\\('${AGE_GRAPH}', \\$\\$ ([\\s\\S]*) \\$\\$, \\$1\\) AS \\(([a-z0-9_, .]+)\\)$`);

export class SimulatedAge implements AgeConnections {
  readonly vertices: V[] = [];
  readonly edges: E[] = [];
  /** Every SQL statement and parameter list seen, for assertions. */
  readonly log: Array<{ sql: string; params: readonly unknown[] }> = [];
  #next = 844_424_930_131_969; // a graphid-sized number (label id << 48)
  readonly #handlers = new Map<string, (p: Props) => string[][]>();
  /** The label-table writes (age-label-tables.ts), by exact SQL text; parameters arrive parsed from their agtype JSON. */
  readonly #sqlWrites = new Map<string, (params: unknown[]) => Row[]>();

  constructor() {
    this.#install();
  }

  async run<T>(fn: (q: Queryable) => Promise<T>, options: { transaction?: boolean } = {}): Promise<T> {
    if (!options.transaction) return fn(this.#queryable());
    // Roll back by snapshot: enough for single-threaded tests.
    const saved = { v: structuredClone(this.vertices), e: structuredClone(this.edges) };
    try {
      return await fn(this.#queryable());
    } catch (error) {
      this.vertices.splice(0, this.vertices.length, ...saved.v);
      this.edges.splice(0, this.edges.length, ...saved.e);
      throw error;
    }
  }

  async joinTransaction(tx: Queryable): Promise<() => Promise<void>> {
    await tx.query(`LOAD 'age'`);
    return async () => undefined;
  }

  /** A Queryable for callers' "transactions" in tests. */
  queryable(): Queryable {
    return this.#queryable();
  }

  #queryable(): Queryable {
    return {
      query: async <R extends object>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> => {
        this.log.push({ sql, params });
        const rows = this.#answer(sql, params) as unknown as R[];
        return { rows, rowCount: rows.length };
      },
      exec: async () => undefined,
    };
  }

  #answer(sql: string, params: readonly unknown[]): Row[] {
    if (sql.startsWith('SELECT pg_advisory_xact_lock') || sql === `LOAD 'age'`) return [];
    // The statistics check finds no label tables here, so no ANALYZE follows.
    if (sql.includes('FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n')) return [];
    if (sql === forkScopeSql()) return this.#fork(JSON.parse(String(params[0])) as string, JSON.parse(String(params[1])) as Props);
    const write = this.#sqlWrites.get(sql);
    if (write) return write(params.map((p) => (Array.isArray(p) ? p.map((x) => JSON.parse(String(x)) as unknown) : (JSON.parse(String(p)) as unknown))));
    const m = SQL_SHAPE.exec(sql);
    if (!m) throw new Error(`simulated AGE: unexpected SQL ${sql}`);
    if (params.length !== 1 || typeof params[0] !== 'string') throw new Error('simulated AGE: expected exactly one agtype parameter');
    const cypher = m[1]!;
    const columns = m[2]!.split(', ').map((c) => {
      const [name, type] = c.split(' ');
      if (type !== 'ag_catalog.agtype') throw new Error(`simulated AGE: column ${c} is not agtype`);
      return name!;
    });
    const handler = this.#handlers.get(cypher);
    if (!handler) throw new Error(`simulated AGE: unknown Cypher ${cypher}`);
    const p = JSON.parse(params[0]) as Props;
    return handler(p).map((values) => Object.fromEntries(columns.map((c, i) => [c, values[i]!])));
  }

  /** The label-table copy: new graph ids, `scope` replaced, edges between the copies. */
  #fork(from: string, to: Props): Row[] {
    const copies = new Map<number, V>();
    for (const v of this.vertices.filter((x) => x.props.scope === from)) copies.set(v.gid, { gid: this.#next++, label: v.label, props: { ...v.props, scope: to.scope } });
    const edges = this.edges
      .filter((e) => copies.has(e.start) && copies.has(e.end))
      .map((e): E => ({ gid: this.#next++, label: e.label, start: copies.get(e.start)!.gid, end: copies.get(e.end)!.gid, props: { ...e.props } }));
    this.vertices.push(...copies.values());
    this.edges.push(...edges);
    return [{ vertices: String(copies.size), edges: String(edges.length) }];
  }

  #find(label: VertexLabel, scope: unknown, id: unknown): V | undefined {
    return this.vertices.find((v) => v.label === label && v.props.scope === scope && v.props.id === id);
  }

  #install(): void {
    const h = this.#handlers;
    const inScope = (label: VertexLabel, scope: unknown) => this.vertices.filter((v) => v.label === label && v.props.scope === scope);
    const byGid = (gid: number) => this.vertices.find((v) => v.gid === gid)!;
    const out = (label: EdgeLabel, from: V) => this.edges.filter((e) => e.label === label && e.start === from.gid);
    const vertexProps = (label: VertexLabel, p: Props): Props =>
      label === 'Scene'
        ? { scope: p.scope, id: p.id, name: p.name, scene_type: p.scene_type, authored_mass: p.authored_mass, cast_ids: p.cast_ids }
        : { scope: p.scope, id: p.id, name: p.name };
    const edgeProps = (label: EdgeLabel, p: Props): Props =>
      label === 'RELATES_TO'
        ? { trust_reliability: p.trust_reliability, trust_competence: p.trust_competence, trust_benevolence: p.trust_benevolence, affection: p.affection, debt: p.debt }
        : label === 'ADJACENT_TO'
          ? { traversal_cost: p.traversal_cost }
          : {};
    const w = this.#sqlWrites;
    for (const label of VERTEX_LABELS) {
      w.set(updateVerticesSql(label), ([scope, ids, props]) =>
        (ids as string[]).flatMap((id, i) => {
          const v = this.#find(label, scope, id);
          if (!v) return [];
          v.props = vertexProps(label, (props as Props[])[i]!);
          return [{ id }];
        }),
      );
      w.set(insertVerticesSql(label), ([props]) => {
        for (const p of props as Props[]) this.vertices.push({ gid: this.#next++, label, props: vertexProps(label, p) });
        return [];
      });
    }
    for (const [label, fromLabel, toLabel] of EDGE_SHAPES) {
      w.set(upsertEdgesSql(label, fromLabel, toLabel), ([scope, froms, tos, props]) => {
        const missing: Row[] = [];
        (froms as string[]).forEach((from, i) => {
          const to = (tos as string[])[i]!;
          const a = this.#find(fromLabel, scope, from);
          const b = this.#find(toLabel, scope, to);
          if (!a || !b) return void missing.push({ from_id: from, to_id: to });
          const existing = this.edges.filter((x) => x.label === label && x.start === a.gid && x.end === b.gid);
          const values = edgeProps(label, (props as Props[])[i]!);
          if (existing.length > 0) for (const e of existing) e.props = values;
          else this.edges.push({ gid: this.#next++, label, start: a.gid, end: b.gid, props: values });
        });
        return missing;
      });
    }
    h.set(CYPHER.countScope, (p) => [[String(this.vertices.filter((v) => v.props.scope === p.scope).length)]]);
    h.set(CYPHER.deleteScope, (p) => {
      const gids = new Set(this.vertices.filter((v) => v.props.scope === p.scope).map((v) => v.gid));
      this.edges.splice(0, this.edges.length, ...this.edges.filter((e) => !gids.has(e.start) && !gids.has(e.end)));
      this.vertices.splice(0, this.vertices.length, ...this.vertices.filter((v) => !gids.has(v.gid)));
      return [];
    });
    const rels = (scope: unknown) =>
      this.edges
        .filter((e) => e.label === 'RELATES_TO')
        .map((e) => ({ e, a: byGid(e.start), b: byGid(e.end) }))
        .filter(({ a }) => a.props.scope === scope);
    const has = (list: unknown, x: unknown) => Array.isArray(list) && list.includes(x);
    // An id list arrives as `name: [...]` or as padded slots `name_0, name_1, …` (idListParams).
    const listOf = (p: Props, name: string): unknown[] =>
      Array.isArray(p[name]) ? (p[name] as unknown[]) : Object.keys(p).filter((k) => new RegExp(`^${name}_\\d+$`).test(k)).map((k) => p[k]);
    const sizes: IdListSize[] = [...ID_LIST_SIZES, 'list'];
    for (const size of sizes) {
      h.set(CYPHER.characters(size), (p) => inScope('Character', p.scope).filter((v) => has(listOf(p, 'ids'), v.props.id)).map((v) => [vertexText(v)]));
      h.set(CYPHER.relationsAmong(size), (p) =>
        rels(p.scope)
          .filter(({ a, b }) => has(listOf(p, 'ids'), a.props.id) && has(listOf(p, 'ids'), b.props.id))
          .map(({ e, a, b }) => [agValue(a.props.id), agValue(b.props.id), edgeText(e)]),
      );
      h.set(CYPHER.relationsBetween(size), (p) =>
        rels(p.scope)
          .filter(({ a, b }) => has(listOf(p, 'from_ids'), a.props.id) && has(listOf(p, 'to_ids'), b.props.id))
          .map(({ e, a, b }) => [agValue(a.props.id), agValue(b.props.id), edgeText(e)]),
      );
      h.set(CYPHER.neighbours(size), (p) => {
        const pairs = new Set<string>();
        for (const { a, b } of rels(p.scope)) {
          if (has(listOf(p, 'ids'), a.props.id)) pairs.add(JSON.stringify([a.props.id, b.props.id]));
          if (has(listOf(p, 'ids'), b.props.id)) pairs.add(JSON.stringify([b.props.id, a.props.id]));
        }
        return [...pairs].map((s) => (JSON.parse(s) as unknown[]).map(agValue));
      });
    }
    h.set(CYPHER.trusting, (p) =>
      rels(p.scope)
        .filter(({ e, b }) => b.props.id === p.target && (e.props.trust_competence as number) > (p.min_competence as number) && (e.props.trust_benevolence as number) > (p.min_benevolence as number))
        .map(({ e, a }) => [vertexText(a), edgeText(e)]),
    );
    // A chain of OPTIONAL MATCHes: one row per walk of length 1..k (a row stops with nulls at a dead end), like AGE's left joins.
    const walks = (start: V, k: number): Array<Array<V | null>> => {
      const extend = (row: Array<V | null>): Array<Array<V | null>> => {
        if (row.length === k) return [row];
        const last = row[row.length - 1]!;
        const next = last === null ? [] : out('LEADS_TO', last).map((e) => byGid(e.end)).filter((v) => v.label === 'Scene');
        return next.length === 0 ? [[...row, ...Array<null>(k - row.length).fill(null)]] : next.flatMap((n) => extend([...row, n]));
      };
      return out('LEADS_TO', start)
        .map((e) => byGid(e.end))
        .filter((v) => v.label === 'Scene')
        .flatMap((f1) => extend([f1]));
    };
    for (const k of [1, 2, 3] as const) {
      h.set(CYPHER.reachableScenes(k), (p) => {
        const s = this.#find('Scene', p.scope, p.id);
        return s ? walks(s, k).map((row) => row.map((v) => (v ? vertexText(v) : 'null'))) : [];
      });
    }
    const tense = (e: E, p: Props) => (e.props.trust_competence as number) < (p.tension_competence as number) || (e.props.debt as number) > (p.tension_debt as number);
    for (const size of sizes) {
      h.set(CYPHER.tenseAmong(size), (p) =>
        rels(p.scope)
          .filter(({ e, a, b }) => has(listOf(p, 'ids'), a.props.id) && has(listOf(p, 'ids'), b.props.id) && tense(e, p))
          .map(({ a, b }) => [agValue(a.props.id), agValue(b.props.id)]),
      );
    }
    h.set(CYPHER.adjacentSettings, (p) => {
      const s = this.#find('Setting', p.scope, p.id);
      return s ? out('ADJACENT_TO', s).map((e) => [vertexText(byGid(e.end)), agValue(e.props.traversal_cost)]) : [];
    });
    // Two fixed-length patterns, each with distinct edges (AGE's edge uniqueness within a MATCH).
    h.set(CYPHER.scenesNearSetting, (p) => {
      const s = this.#find('Setting', p.scope, p.id);
      if (!s) return [];
      const ends: Array<{ end: V; hops: number }> = [];
      for (const e1 of out('ADJACENT_TO', s)) {
        const n1 = byGid(e1.end);
        if (n1.label !== 'Setting') continue;
        ends.push({ end: n1, hops: 1 });
        for (const e2 of out('ADJACENT_TO', n1)) if (e2 !== e1 && byGid(e2.end).label === 'Setting') ends.push({ end: byGid(e2.end), hops: 2 });
      }
      return ends.flatMap(({ end, hops }) =>
        this.edges
          .filter((e) => e.label === 'SCENE_AT' && e.end === end.gid)
          .map((e) => [vertexText(end), vertexText(byGid(e.start)), String(hops)]),
      );
    });
  }
}
