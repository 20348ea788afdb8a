import { describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../../src/errors.ts';
import { previousGatewaySecrets } from '../../../src/gateway/secret.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';

/** Rotating the gateway secret (docs/operations.md): old tokens verify during the overlap, new ones are signed with the new secret only. */
describe('gateway secret rotation', () => {
  const oldSecret = 'o'.repeat(40);
  const newSecret = 'n'.repeat(40);

  it('a signer with the old secret as previous verifies old tokens, signs with the new one; after the overlap old tokens are refused', () => {
    const before = new TokenSigner(oldSecret);
    const old = before.sign({ sub: 'player-1', sid: null, scope: ['play'] });
    const during = new TokenSigner(newSecret, Date.now, previousGatewaySecrets({ STORYTELLER_GATEWAY_SECRET_PREVIOUS: ` ${oldSecret} ,` }));
    expect(during.verify(old)?.sub).toBe('player-1');
    const fresh = during.sign({ sub: 'player-1', sid: null, scope: ['play'] });
    // Signed with the new secret only: an instance not yet restarted (old secret) refuses it…
    expect(before.verify(fresh)).toBeNull();
    // …and after the overlap (previous removed) the old token no longer verifies.
    const after = new TokenSigner(newSecret);
    expect(after.verify(fresh)?.sub).toBe('player-1');
    expect(after.verify(old)).toBeNull();
    // A token forged with some other secret is refused throughout.
    expect(during.verify(new TokenSigner('x'.repeat(40)).sign({ sub: 'p', sid: null, scope: ['play'] }))).toBeNull();
  });

  it('refuses a short previous secret with the variable named', () => {
    expect(previousGatewaySecrets({})).toEqual([]);
    try {
      previousGatewaySecrets({ STORYTELLER_GATEWAY_SECRET_PREVIOUS: 'short' });
      expect.unreachable();
    } catch (error) {
      expect(isStorytellerError(error, 'CONFIG_INVALID')).toBe(true);
      expect((error as { details?: { variables?: string[] } }).details?.variables).toEqual(['STORYTELLER_GATEWAY_SECRET_PREVIOUS']);
    }
  });
});
