import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../../src/errors.ts';
import { AgEdge, AgNumeric, AgPath, AgVertex, parseAgtype, type AgValue } from '../../../src/persistence/graph/agtype.ts';
import { agValue } from '../../support/simulated-age.ts';

const failsToParse = (text: string) => {
  try {
    parseAgtype(text);
  } catch (error) {
    return isStorytellerError(error, 'GRAPH_QUERY_FAILED');
  }
  return false;
};

describe('parseAgtype', () => {
  it('parses a vertex as AGE prints it', () => {
    const v = parseAgtype('{"id": 844424930131969, "label": "Character", "properties": {"id": "mara", "scope": "lighthouse", "name": "Mara"}}::vertex');
    expect(v).toBeInstanceOf(AgVertex);
    expect(v).toEqual(new AgVertex(844424930131969, 'Character', { id: 'mara', scope: 'lighthouse', name: 'Mara' }));
  });

  it('parses an edge, keeping start and end ids', () => {
    const e = parseAgtype(
      '{"id": 1125899906842625, "label": "RELATES_TO", "end_id": 844424930131970, "start_id": 844424930131969, "properties": {"debt": 0.6, "affection": 1.0, "trust_competence": -0.4}}::edge',
    );
    expect(e).toEqual(new AgEdge(1125899906842625, 'RELATES_TO', 844424930131969, 844424930131970, { debt: 0.6, affection: 1, trust_competence: -0.4 }));
  });

  it('parses a path into its vertices and edges', () => {
    const p = parseAgtype(
      '[{"id": 1, "label": "Person", "properties": {"name": "Carl"}}::vertex, {"id": 100, "label": "family", "end_id": 2, "start_id": 1, "properties": {}}::edge, {"id": 2, "label": "Person", "properties": {"name": "Anna"}}::vertex]::path',
    );
    expect(p).toBeInstanceOf(AgPath);
    const path = p as AgPath;
    expect(path.vertices.map((v) => v.properties.name)).toEqual(['Carl', 'Anna']);
    expect(path.edges).toEqual([new AgEdge(100, 'family', 1, 2, {})]);
  });

  it('parses a list of vertices (a variable-length edge list, collect())', () => {
    const list = parseAgtype('[{"id": 1, "label": "S", "properties": {}}::vertex, {"id": 2, "label": "S", "properties": {}}::vertex]') as AgValue[];
    expect(list.map((v) => (v as AgVertex).id)).toEqual([1, 2]);
  });

  it('keeps integers and floats apart and handles the special floats', () => {
    expect(parseAgtype('42')).toBe(42);
    expect(parseAgtype('-7')).toBe(-7);
    expect(parseAgtype('2.0')).toBe(2);
    expect(parseAgtype('-0.0')).toBe(-0);
    expect(parseAgtype('1e+100')).toBe(1e100);
    expect(parseAgtype('1.5e-07')).toBe(1.5e-7);
    expect(parseAgtype('NaN')).toBeNaN();
    expect(parseAgtype('Infinity')).toBe(Number.POSITIVE_INFINITY);
    expect(parseAgtype('-Infinity')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseAgtype('[NaN, -Infinity]')).toEqual([Number.NaN, Number.NEGATIVE_INFINITY]);
  });

  it('returns graph ids beyond 2^53 as bigint', () => {
    expect(parseAgtype('9223372036854775807')).toBe(9223372036854775807n);
    const v = parseAgtype('{"id": 18014398509481985, "label": "Zone", "properties": {}}::vertex') as AgVertex;
    expect(v.id).toBe(18014398509481985n);
  });

  it('keeps ::numeric as decimal text and honours ::integer / ::float', () => {
    const n = parseAgtype('3.14159265358979323846264338327950288::numeric');
    expect(n).toEqual(new AgNumeric('3.14159265358979323846264338327950288'));
    expect((n as AgNumeric).toNumber()).toBeCloseTo(Math.PI, 15);
    expect(parseAgtype('{"a": 1::numeric}')).toEqual({ a: new AgNumeric('1') });
    expect(parseAgtype('5::float')).toBe(5);
    expect(parseAgtype('5.9::integer')).toBe(5);
  });

  it('decodes every string escape, \\u escapes with surrogate pairs, and raw UTF-8', () => {
    expect(parseAgtype(String.raw`"a\"b\\c\/d\b\f\n\r\t\u0001\u00e9\ud83c\udf0a"`)).toBe('a"b\\c/d\b\f\n\r\t\u0001é🌊');
    expect(parseAgtype('"𝔐ara 🌊 ä $$ \' ;"')).toBe("𝔐ara 🌊 ä $$ ' ;");
    expect(parseAgtype('""')).toBe('');
  });

  it('parses nested maps and lists, null, booleans and whitespace', () => {
    expect(parseAgtype(' { "a" : [ 1 , 2.5 , "x" , null , true , false , { } , [ ] ] , "b" : { "c" : null } } ')).toEqual({
      a: [1, 2.5, 'x', null, true, false, {}, []],
      b: { c: null },
    });
    expect(parseAgtype(null)).toBeNull();
    expect(parseAgtype('null')).toBeNull();
  });

  it('treats a "__proto__" key as data', () => {
    const m = parseAgtype('{"__proto__": {"polluted": true}, "x": 1}') as Record<string, AgValue>;
    expect(Object.keys(m)).toEqual(['__proto__', 'x']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
  });

  it.each([
    ['unterminated string', '"abc'],
    ['trailing text', '1 2'],
    ['unknown annotation', '{"a": 1}::node'],
    ['vertex without label', '{"id": 1, "properties": {}}::vertex'],
    ['vertex with extra keys', '{"id": 1, "label": "A", "properties": {}, "x": 1}::vertex'],
    ['edge without end_id', '{"id": 1, "label": "R", "start_id": 2, "properties": {}}::edge'],
    ['path of even length', '[{"id": 1, "label": "A", "properties": {}}::vertex, {"id": 9, "label": "R", "end_id": 2, "start_id": 1, "properties": {}}::edge]::path'],
    ['path with a map where an edge belongs', '[{"id": 1, "label": "A", "properties": {}}::vertex, {"x": 1}, {"id": 2, "label": "A", "properties": {}}::vertex]::path'],
    ['raw control character', '"a\nb"'],
    ['bad escape', String.raw`"\x41"`],
    ['bad unicode escape', String.raw`"\u12"`],
    ['missing colon', '{"a" 1}'],
    ['missing comma', '[1 2]'],
    ['empty input', ''],
    ['bare word', 'nul'],
  ])('rejects %s with GRAPH_QUERY_FAILED', (_name, text) => {
    expect(failsToParse(text)).toBe(true);
  });

  it('round-trips any value printed the way AGE prints it', () => {
    const scalar = fc.oneof(
      fc.string({ unit: 'binary' }).filter((s) => !/\p{Surrogate}/u.test(s)),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0) && (!Number.isInteger(d) || Math.abs(d) < 2 ** 53)),
      fc.boolean(),
      fc.constant(null),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        expect(parseAgtype(agValue(v))).toEqual(v);
      }),
      { numRuns: 150 },
    );
  });
});
