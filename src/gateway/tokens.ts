import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Signed session tokens: `st1.<claims>.<signature>`, both base64url; the signature is
 * HMAC-SHA256 over `st1.<claims>` with the gateway secret. A token names a player
 * (`sub`) and at most one session (`sid`): a token bound to session A never reads or
 * writes session B. `scope` holds `play` and, for authors and developers, `debug`
 * (the debug subscription). No server-side state: any gateway instance with the same
 * secret verifies it.
 *
 * @example
 * const tokens = new TokenSigner(secret);
 * const t = tokens.sign({ sub: 'player-1', sid: null, scope: ['play'] });
 * tokens.verify(t)?.sub; // 'player-1'
 */
export const tokenClaims = z.strictObject({
  sub: z.string().min(1).max(100),
  sid: z.guid().nullable(),
  scope: z.array(z.enum(['play', 'debug'])).min(1),
  iat: z.number().int().nonnegative(),
  /** Expiry (ms since epoch); absent: the token lives as long as the player's saved game. */
  exp: z.number().int().positive().optional(),
});

export type TokenClaims = z.infer<typeof tokenClaims>;
export type Scope = TokenClaims['scope'][number];

const PREFIX = 'st1';

export class TokenSigner {
  readonly #secret: Buffer;
  readonly #now: () => number;
  /** Secrets being rotated out (STORYTELLER_GATEWAY_SECRET_PREVIOUS): still verified, never used to sign. */
  readonly #previous: Buffer[];

  constructor(secret: string | Buffer, now: () => number = Date.now, previous: ReadonlyArray<string | Buffer> = []) {
    const key = (s: string | Buffer) => (Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'));
    this.#secret = key(secret);
    this.#previous = previous.map(key);
    if ([this.#secret, ...this.#previous].some((k) => k.length < 16)) throw new Error('the gateway secret must be at least 16 bytes');
    this.#now = now;
  }

  sign(claims: Omit<TokenClaims, 'iat'> & { iat?: number }): string {
    const body = Buffer.from(JSON.stringify(tokenClaims.parse({ iat: this.#now(), ...claims })), 'utf8').toString('base64url');
    return `${PREFIX}.${body}.${this.#mac(`${PREFIX}.${body}`)}`;
  }

  /** A fresh player token (a new player id). */
  newPlayer(): string {
    return this.sign({ sub: `player-${randomUUID()}`, sid: null, scope: ['play'] });
  }

  /** Null for anything not signed by this secret (or a previous one), malformed or expired. A resume re-signs with the current one. */
  verify(token: string): TokenClaims | null {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX) return null;
    const [, body, sig] = parts as [string, string, string];
    const given = Buffer.from(sig, 'base64url');
    const signedBy = (key: Buffer) => {
      const expected = Buffer.from(this.#mac(`${PREFIX}.${body}`, key), 'base64url');
      return given.length === expected.length && timingSafeEqual(given, expected);
    };
    if (!signedBy(this.#secret) && !this.#previous.some(signedBy)) return null;
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    const parsed = tokenClaims.safeParse(json);
    if (!parsed.success) return null;
    if (parsed.data.exp !== undefined && parsed.data.exp <= this.#now()) return null;
    return parsed.data;
  }

  #mac(data: string, key: Buffer = this.#secret): string {
    return createHmac('sha256', key).update(data).digest('base64url');
  }
}
