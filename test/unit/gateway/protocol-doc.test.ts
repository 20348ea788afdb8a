import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientFrame, CLOSE, serverFrame } from '../../../src/gateway/protocol.ts';

/** docs/protocol.md documents every frame type and every close code of protocol.ts. */
const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const types = (schema: typeof clientFrame | typeof serverFrame) => schema.options.map((o) => o.shape.type.value as string);

describe('docs/protocol.md', () => {
  it('has a row for every client and server frame type', () => {
    for (const t of [...types(clientFrame), ...types(serverFrame)]) expect(doc, t).toContain(`| \`${t}\` |`);
  });
  it('documents every close code the server uses', () => {
    for (const code of Object.values(CLOSE)) expect(doc, String(code)).toMatch(new RegExp(`\\| (\\d+ / )?${code}( / \\d+)? \\|`));
  });
});
