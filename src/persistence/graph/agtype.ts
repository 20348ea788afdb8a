import { StorytellerError } from '../../errors.ts';

/**
 * A parser for Apache AGE's `agtype` text output — what `pg` hands back for an agtype
 * column. agtype is JSON plus:
 *   - integers (`42`) and floats (`4.0`, `1e+100`, `NaN`, `Infinity`, `-Infinity`) kept apart;
 *   - type annotations after a value: `{…}::vertex`, `{…}::edge`, `[…]::path`,
 *     `3.14::numeric` (and, on input, `::integer`, `::float`);
 *   - graph ids are 64-bit integers (label id << 48 | sequence).
 * Output format per AGE's agtype.c (agtype_put_escaped_value, escape_agtype): `", "` and
 * `": "` separators, strings escaped like JSON with other control characters as \u00XX.
 */

export type AgValue = null | boolean | number | bigint | string | AgNumeric | AgVertex | AgEdge | AgPath | AgValue[] | AgMap;
export interface AgMap {
  [key: string]: AgValue;
}

/** An arbitrary-precision `::numeric`, kept as its decimal text. */
export class AgNumeric {
  constructor(readonly text: string) {}
  toNumber(): number {
    return Number(this.text);
  }
}

export class AgVertex {
  constructor(
    readonly id: number | bigint,
    readonly label: string,
    readonly properties: AgMap,
  ) {}
}

export class AgEdge {
  constructor(
    readonly id: number | bigint,
    readonly label: string,
    readonly startId: number | bigint,
    readonly endId: number | bigint,
    readonly properties: AgMap,
  ) {}
}

export class AgPath {
  constructor(
    readonly vertices: AgVertex[],
    readonly edges: AgEdge[],
  ) {}
}

/**
 * Parses one agtype value. SQL NULL (the driver's `null`) stays null.
 *
 * @example
 * parseAgtype('{"id": 844424930131969, "label": "Character", "properties": {"id": "mara"}}::vertex')
 * // AgVertex { id: 844424930131969, label: 'Character', properties: { id: 'mara' } }
 */
export function parseAgtype(text: string | null): AgValue {
  if (text === null) return null;
  const parser = new Parser(text);
  const value = parser.value();
  parser.skipWhitespace();
  if (!parser.done()) parser.fail('unexpected text after the value');
  return value;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ANNOTATION = /::([A-Za-z_][A-Za-z0-9_]*)/y;
const KEYWORDS: Array<[string, AgValue]> = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
];

class Parser {
  #i = 0;
  readonly #s: string;

  constructor(s: string) {
    this.#s = s;
  }

  done(): boolean {
    return this.#i >= this.#s.length;
  }

  fail(message: string): never {
    const around = this.#s.slice(Math.max(0, this.#i - 20), this.#i + 20);
    throw new StorytellerError('GRAPH_QUERY_FAILED', `agtype parse error at offset ${this.#i}: ${message} (near ${JSON.stringify(around)})`);
  }

  skipWhitespace(): void {
    while (this.#i < this.#s.length) {
      const c = this.#s.charCodeAt(this.#i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.#i++;
      else break;
    }
  }

  value(): AgValue {
    this.skipWhitespace();
    const c = this.#s[this.#i];
    let v: AgValue;
    if (c === '{') v = this.#object();
    else if (c === '[') v = this.#array();
    else if (c === '"') v = this.#string();
    else v = this.#scalar();
    return this.#annotate(v);
  }

  #annotate(v: AgValue): AgValue {
    ANNOTATION.lastIndex = this.#i;
    const m = ANNOTATION.exec(this.#s);
    if (!m) return v;
    this.#i = ANNOTATION.lastIndex;
    const kind = m[1]!.toLowerCase();
    switch (kind) {
      case 'vertex':
        return this.#vertex(v);
      case 'edge':
        return this.#edge(v);
      case 'path':
        return this.#path(v);
      case 'numeric':
        if (typeof v === 'number' || typeof v === 'bigint') return new AgNumeric(this.#lastNumberText ?? String(v));
        return this.fail('::numeric on a non-number');
      case 'integer':
        if (typeof v === 'number' || typeof v === 'bigint') return typeof v === 'number' ? Math.trunc(v) : v;
        return this.fail('::integer on a non-number');
      case 'float':
        if (typeof v === 'number') return v;
        if (typeof v === 'bigint') return Number(v);
        return this.fail('::float on a non-number');
      default:
        return this.fail(`unknown annotation ::${m[1]}`);
    }
  }

  #lastNumberText: string | undefined;

  #scalar(): AgValue {
    for (const [word, value] of KEYWORDS) {
      if (this.#s.startsWith(word, this.#i)) {
        this.#i += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = this.#i;
    const m = NUMBER.exec(this.#s);
    if (!m || m[0].length === 0) return this.fail('expected a value');
    this.#i = NUMBER.lastIndex;
    this.#lastNumberText = m[0];
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }

  #string(): string {
    const s = this.#s;
    this.#i++; // opening quote
    let out = '';
    let start = this.#i;
    for (;;) {
      if (this.#i >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(this.#i);
      if (c === 0x22) {
        out += s.slice(start, this.#i);
        this.#i++;
        return out;
      }
      if (c < 0x20) this.fail('raw control character in a string');
      if (c !== 0x5c) {
        this.#i++;
        continue;
      }
      out += s.slice(start, this.#i);
      const e = s[this.#i + 1];
      this.#i += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = s.slice(this.#i, this.#i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
          // Surrogate pairs arrive as two escapes; concatenating the halves rebuilds the character.
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.#i += 4;
          break;
        }
        default:
          this.fail(`bad escape \\${e ?? ''}`);
      }
      start = this.#i;
    }
  }

  #array(): AgValue[] {
    this.#i++; // [
    const out: AgValue[] = [];
    this.skipWhitespace();
    if (this.#s[this.#i] === ']') {
      this.#i++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.skipWhitespace();
      const c = this.#s[this.#i++];
      if (c === ']') return out;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  #object(): AgMap {
    this.#i++; // {
    const out: AgMap = {};
    this.skipWhitespace();
    if (this.#s[this.#i] === '}') {
      this.#i++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.#s[this.#i] !== '"') this.fail('expected a string key');
      const key = this.#string();
      this.skipWhitespace();
      if (this.#s[this.#i++] !== ':') this.fail("expected ':'");
      // Defined as an own data property, so a key such as "__proto__" is data too.
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.skipWhitespace();
      const c = this.#s[this.#i++];
      if (c === '}') return out;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  #vertex(v: AgValue): AgVertex {
    const o = this.#entity(v, ['id', 'label', 'properties'], 'vertex');
    return new AgVertex(o.id as number | bigint, o.label as string, o.properties as AgMap);
  }

  #edge(v: AgValue): AgEdge {
    const o = this.#entity(v, ['id', 'label', 'start_id', 'end_id', 'properties'], 'edge');
    return new AgEdge(o.id as number | bigint, o.label as string, o.start_id as number | bigint, o.end_id as number | bigint, o.properties as AgMap);
  }

  #entity(v: AgValue, keys: string[], what: string): AgMap {
    if (!isMap(v)) return this.fail(`::${what} on a non-object`);
    const isInt = (x: AgValue) => (typeof x === 'number' && Number.isInteger(x)) || typeof x === 'bigint';
    for (const k of keys) {
      const x = v[k];
      const ok = k === 'label' ? typeof x === 'string' : k === 'properties' ? isMap(x) : isInt(x ?? null);
      if (!Object.hasOwn(v, k) || !ok) this.fail(`${what} without a valid "${k}"`);
    }
    if (Object.keys(v).length !== keys.length) this.fail(`${what} with unexpected keys`);
    return v;
  }

  #path(v: AgValue): AgPath {
    if (!Array.isArray(v) || v.length % 2 === 0) return this.fail('::path needs an odd-length array');
    const vertices: AgVertex[] = [];
    const edges: AgEdge[] = [];
    v.forEach((x, i) => {
      if (i % 2 === 0) {
        if (!(x instanceof AgVertex)) this.fail('path element is not a vertex');
        vertices.push(x);
      } else {
        if (!(x instanceof AgEdge)) this.fail('path element is not an edge');
        edges.push(x);
      }
    });
    return new AgPath(vertices, edges);
  }
}

export function isMap(v: AgValue | undefined): v is AgMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof AgVertex) && !(v instanceof AgEdge) && !(v instanceof AgPath) && !(v instanceof AgNumeric);
}

/**
 * The agtype text of a parameter map for `cypher(graph, query, $1)`: JSON. Numbers must be
 * finite (JSON has no NaN); callers validate before.
 */
export function agtypeParams(params: Record<string, unknown>): string {
  return JSON.stringify(params);
}
