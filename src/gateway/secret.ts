import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StorytellerError } from '../errors.ts';

/**
 * The gateway's token secret: `STORYTELLER_GATEWAY_SECRET` when set (at least 32
 * characters); otherwise, outside production, one generated once and kept in
 * `<dataDir>/gateway-secret` (mode 0600) so tokens survive restarts of the embedded
 * default. In production (`NODE_ENV=production`) an unset secret stops start-up: several
 * instances must share one, and a generated file would silently differ between them.
 */
export async function resolveGatewaySecret(env: NodeJS.ProcessEnv, dataDir: string): Promise<string> {
  const given = env.STORYTELLER_GATEWAY_SECRET;
  if (given !== undefined && given !== '') {
    if (given.length < 32) throw new StorytellerError('CONFIG_INVALID', 'STORYTELLER_GATEWAY_SECRET must be at least 32 characters', { details: { variables: ['STORYTELLER_GATEWAY_SECRET'] } });
    return given;
  }
  if (env.NODE_ENV === 'production') {
    throw new StorytellerError('CONFIG_INVALID', 'STORYTELLER_GATEWAY_SECRET is required when NODE_ENV=production', { details: { variables: ['STORYTELLER_GATEWAY_SECRET'] } });
  }
  const file = join(dataDir, 'gateway-secret');
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored.length >= 32) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * STORYTELLER_GATEWAY_SECRET_PREVIOUS: secrets being rotated out, comma-separated (each ≥ 32
 * characters). Tokens they signed still verify; a resume hands the client a token signed
 * with the current secret (docs/operations.md, "Rotating the gateway secret").
 */
export function previousGatewaySecrets(env: NodeJS.ProcessEnv): string[] {
  const list = (env.STORYTELLER_GATEWAY_SECRET_PREVIOUS ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.some((s) => s.length < 32)) {
    throw new StorytellerError('CONFIG_INVALID', 'each STORYTELLER_GATEWAY_SECRET_PREVIOUS entry must be at least 32 characters', { details: { variables: ['STORYTELLER_GATEWAY_SECRET_PREVIOUS'] } });
  }
  return list;
}
