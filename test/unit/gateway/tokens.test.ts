import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import { resolveGatewaySecret } from '../../../src/gateway/secret.ts';
import { isStorytellerError } from '../../../src/errors.ts';

const SECRET = 'unit-secret-of-at-least-thirty-two-characters';
const SID = '7f9c2ba4-e88f-4f1d-9a2b-3c4d5e6f7a8b';

describe('signed session tokens', () => {
  it('round-trips the claims and matches an independent HMAC-SHA256', () => {
    const t = new TokenSigner(SECRET, () => 1000).sign({ sub: 'p-1', sid: SID, scope: ['play'] });
    const [prefix, body, sig] = t.split('.') as [string, string, string];
    expect(prefix).toBe('st1');
    expect(sig).toBe(createHmac('sha256', SECRET).update(`st1.${body}`).digest('base64url'));
    expect(new TokenSigner(SECRET).verify(t)).toEqual({ sub: 'p-1', sid: SID, scope: ['play'], iat: 1000 });
  });

  it('refuses another secret, a changed claim, a truncated token and an expired one', () => {
    const signer = new TokenSigner(SECRET, () => 5000);
    const t = signer.sign({ sub: 'p-1', sid: null, scope: ['play'] });
    expect(new TokenSigner(`${SECRET}x`).verify(t)).toBeNull();
    const [p, body, sig] = t.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), scope: ['play', 'debug'] })).toString('base64url');
    expect(signer.verify(`${p}.${forged}.${sig}`)).toBeNull();
    expect(signer.verify(`${p}.${body}`)).toBeNull();
    expect(signer.verify('not a token')).toBeNull();
    const expiring = signer.sign({ sub: 'p-1', sid: null, scope: ['play'], exp: 6000 });
    expect(new TokenSigner(SECRET, () => 5999).verify(expiring)?.sub).toBe('p-1');
    expect(new TokenSigner(SECRET, () => 6000).verify(expiring)).toBeNull();
  });
});

describe('gateway secret', () => {
  it('generates one under the data directory (mode 0600) and keeps it; production requires it; a short one is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'storyteller-secret-'));
    try {
      const a = await resolveGatewaySecret({}, dir);
      expect(a.length).toBeGreaterThanOrEqual(32);
      expect(await resolveGatewaySecret({}, dir)).toBe(a);
      expect((await readFile(join(dir, 'gateway-secret'), 'utf8')).trim()).toBe(a);
      expect((await stat(join(dir, 'gateway-secret'))).mode & 0o777).toBe(0o600);
      const given = 'g'.repeat(40);
      expect(await resolveGatewaySecret({ STORYTELLER_GATEWAY_SECRET: given, NODE_ENV: 'production' }, dir)).toBe(given);
      await expect(resolveGatewaySecret({ NODE_ENV: 'production' }, dir)).rejects.toSatisfy((e) => isStorytellerError(e, 'CONFIG_INVALID'));
      await expect(resolveGatewaySecret({ STORYTELLER_GATEWAY_SECRET: 'short' }, dir)).rejects.toSatisfy((e) => isStorytellerError(e, 'CONFIG_INVALID'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
