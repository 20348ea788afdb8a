import { describe, expect, it } from 'vitest';
import { event, EVENT_TYPES, type NewEvent } from '../../src/domain/events.ts';
import { isStorytellerError } from '../../src/errors.ts';
import { validateEvent } from '../../src/persistence/ledger.ts';
import { serialisePayload, validateInput } from '../../src/persistence/ledger-validation.ts';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('validateEvent', () => {
  it('normalises a valid event: defaults applied, confidence and inputId mirrored into their columns', () => {
    const judgment = validateEvent(
      event('InterpretiveJudgment', { id: 'j1', category: 'ToneDetected', confidence: 0.25, evidence: [], description: 'wry', source: { kind: 'classifier' } } as never, { source: 'stage3' }),
      4096,
    );
    expect(judgment).toMatchObject({ confidence: 0.25, sceneId: null, turn: null, inputId: null, idempotencyKey: null, data: { provisional: false } });
    const done = validateEvent({ type: 'TurnCompleted', data: { inputId: 9, turn: 2 }, source: 'engine' } as NewEvent, 4096);
    expect(done).toMatchObject({ inputId: 9, data: { inputId: 9, turn: 2, degraded: [] } });
  });

  it('knows every event type of the domain and nothing else', () => {
    expect(EVENT_TYPES.length).toBeGreaterThan(20);
    const unknown = thrown(() => validateEvent({ type: 'Hover', data: {}, source: 's' } as unknown as NewEvent, 4096));
    expect(isStorytellerError(unknown, 'LEDGER_EVENT_TYPE_UNKNOWN')).toBe(true);
    expect(isStorytellerError(thrown(() => validateEvent(null as unknown as NewEvent, 4096)), 'LEDGER_EVENT_TYPE_UNKNOWN')).toBe(true);
  });

  it('reports schema failures with the path, and sizes in UTF-8 bytes against the limit', () => {
    const invalid = thrown(() => validateEvent({ type: 'MovementAction', data: { actor: 'p', from: 'a' }, source: 's' } as unknown as NewEvent, 4096));
    expect(isStorytellerError(invalid, 'LEDGER_PAYLOAD_INVALID')).toBe(true);
    expect((invalid as { details: { path: unknown[] } }).details.path).toEqual(['data', 'to']);
    const content = '€'.repeat(400); // 1 200 bytes, 400 characters
    expect(() => validateEvent(event('SpeechAct', { speaker: 'k', content }, { source: 's' }), 1_300)).not.toThrow();
    const big = thrown(() => validateEvent(event('SpeechAct', { speaker: 'k', content }, { source: 's' }), 1_000));
    expect(isStorytellerError(big, 'LEDGER_PAYLOAD_TOO_LARGE')).toBe(true);
    const cyclic: Record<string, unknown> = { key: 'k' };
    cyclic.old = cyclic;
    expect(isStorytellerError(thrown(() => validateEvent({ type: 'WorldStateChanged', data: cyclic, source: 's' } as NewEvent, 4096)), 'LEDGER_PAYLOAD_INVALID')).toBe(true);
  });

  it('validates player input requests', () => {
    const ok = validateInput({ sessionId: '7f0c2c1e-2d9b-4c55-9a55-0c2b8e5d9e11', clientInputId: 'c', text: 'hi', sceneId: null, turn: 1 }, 4096);
    expect(ok).toMatchObject({ epoch: null, json: '{"clientInputId":"c","text":"hi"}' });
    expect(isStorytellerError(thrown(() => validateInput({ sessionId: 'x', clientInputId: 'c', text: 'hi', sceneId: null, turn: 1 }, 4096)), 'SESSION_NOT_FOUND')).toBe(true);
  });
});

describe('serialisePayload and NUL characters', () => {
  const nul = (value: unknown) => () => serialisePayload(value, 65_536, 'test');
  it('refuses a real U+0000 anywhere (value or key), also right after a backslash', () => {
    expect(nul({ a: 'x\u0000y' })).toThrow(/NUL/);
    expect(nul({ ['k\u0000']: 1 })).toThrow(/NUL/);
    expect(nul({ a: '\\\u0000' })).toThrow(/NUL/);
    expect(nul({ a: '\\\\\\\u0000' })).toThrow(/NUL/);
  });
  it('keeps text that only spells the escape (backslash, "u0000")', () => {
    expect(JSON.parse(nul({ a: '\\u0000' })() as string)).toEqual({ a: '\\u0000' });
    expect(JSON.parse(nul({ a: '\\\\u0000 and \\u0000' })() as string)).toEqual({ a: '\\\\u0000 and \\u0000' });
  });
});

describe('validateEvent, twice', () => {
  it('returns its own output unchanged, and still refuses what it refused', () => {
    const once = validateEvent({ type: 'SpeechAct', data: { speaker: 'player', content: 'hi' }, source: 'stage2' } as NewEvent, 65_536);
    expect(validateEvent(once, 65_536)).toBe(once);
    expect(() => validateEvent({ type: 'SpeechAct', data: { speaker: 'player' }, source: 'stage2' } as NewEvent, 65_536)).toThrow();
  });
});
