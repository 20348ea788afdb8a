import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * patches/xstate+*.patch: xstate's `assign` copies the context with `Object.assign({}, …)`,
 * which V8 turns into a dictionary-mode object past ~16 keys (the session context has 31),
 * and every later assign copies that dictionary slowly (19 µs each, 17 per turn, measured
 * in docs/protocol.md's profile). The patch copies with a spread, which keeps fast
 * properties. A V8 internal (`%HasFastProperties`) is the only way to see this, so the check
 * runs in a child `node --allow-natives-syntax` against the installed xstate.
 */
const probe = `
const { createActor, setup, assign } = require('xstate');
const context = {};
for (let i = 0; i < 31; i++) context['k' + i] = i % 3 === 0 ? null : i;
const machine = setup({}).createMachine({
  context,
  on: { bump: { actions: assign(({ context }) => ({ k1: context.k1 + 1, k5: [context.k5] })) } },
});
const actor = createActor(machine).start();
for (let i = 0; i < 20; i++) actor.send({ type: 'bump' });
const ctx = actor.getSnapshot().context;
process.stdout.write(JSON.stringify({ fast: %HasFastProperties(ctx), keys: Object.keys(ctx).length, k1: ctx.k1 }));
`;

describe('xstate context copies (patched)', () => {
  it('a 31-key context keeps fast properties after 20 assigns', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--allow-natives-syntax', '-e', probe]);
    expect(JSON.parse(stdout)).toEqual({ fast: true, keys: 31, k1: 21 });
  });
});
