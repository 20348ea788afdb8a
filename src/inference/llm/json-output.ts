import { llmError } from './errors.ts';

/**
 * Checks that a structured reply is one JSON value matching the common subset of JSON schema
 * (type, properties, required, additionalProperties: false, items, enum, const, min/max length/items).
 * Throws LLM_OUTPUT_INVALID naming the first mismatch; returns the parsed value.
 *
 * @example
 * parseStructuredReply('anthropic', '{"ok":true}', { type: 'object', required: ['ok'] }) // { ok: true }
 */
export function parseStructuredReply(provider: string, text: string, schema: Record<string, unknown>): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw llmError('LLM_OUTPUT_INVALID', `${provider}: reply is not JSON`, { provider, text: text.slice(0, 200) }, error);
  }
  const problem = mismatch(value, schema, '$');
  if (problem) throw llmError('LLM_OUTPUT_INVALID', `${provider}: reply fails the schema at ${problem}`, { provider, text: text.slice(0, 200) });
  return value;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function mismatch(value: unknown, schema: Record<string, unknown>, path: string): string | undefined {
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return `${path} (not in enum)`;
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) return `${path} (not the const)`;
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const actual = typeOf(value);
    const ok = allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
    if (!ok) return `${path} (expected ${allowed.join('|')}, got ${actual})`;
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) return `${path} (too short)`;
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) return `${path} (too long)`;
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) return `${path} (below minimum)`;
    if (typeof schema.maximum === 'number' && value > schema.maximum) return `${path} (above maximum)`;
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) return `${path} (too few items)`;
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) return `${path} (too many items)`;
    const items = schema.items as Record<string, unknown> | undefined;
    if (items && typeof items === 'object') {
      for (let i = 0; i < value.length; i++) {
        const p = mismatch(value[i], items, `${path}[${i}]`);
        if (p) return p;
      }
    }
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const key of Array.isArray(schema.required) ? (schema.required as string[]) : []) {
      if (!(key in obj)) return `${path}.${key} (missing)`;
    }
    for (const [key, v] of Object.entries(obj)) {
      const sub = props[key];
      if (sub) {
        const p = mismatch(v, sub, `${path}.${key}`);
        if (p) return p;
      } else if (schema.additionalProperties === false) {
        return `${path}.${key} (not allowed)`;
      }
    }
  }
  return undefined;
}
