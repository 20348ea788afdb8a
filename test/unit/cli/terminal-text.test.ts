import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { terminalSafe } from '../../../src/cli/terminal-text.ts';

// Pure unit test (no I/O). The ledger keeps text as typed; only what the terminal prints is cleaned.
describe('terminalSafe', () => {
  it.each([
    ['clear screen + bell', 'hi\x1b[2J\x07 there', 'hi there'],
    ['cursor movement and colour', '\x1b[10;10H\x1b[31mred\x1b[0m', 'red'],
    ['window title (OSC … BEL)', '\x1b]0;pwned\x07ok', 'ok'],
    ['OSC 8 hyperlink (ESC \\ terminator)', '\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\', 'link'],
    ['C1 CSI', 'a\u009b2Jb', 'ab'],
    ['backspaces and carriage returns that hide text', 'safe\rEVIL\b\b', 'safeEVIL'],
    ['newlines and tabs stay', 'one\n\ttwo', 'one\n\ttwo'],
    ['unicode text stays', 'Ewan — “the light”, café 灯台', 'Ewan — “the light”, café 灯台'],
  ])('%s', (_name, input, expected) => {
    expect(terminalSafe(input)).toBe(expected);
  });

  it('never leaves an ESC, a C0/C1 control (except tab and newline) or DEL in its output', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const out = terminalSafe(s);
        expect(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(out)).toBe(false);
      }),
      { numRuns: 2_000, seed: 9 },
    );
  });

  it('leaves printable text unchanged', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }).filter((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s)), (s) => {
        expect(terminalSafe(s)).toBe(s);
      }),
      { numRuns: 1_000, seed: 10 },
    );
  });
});
