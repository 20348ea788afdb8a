import { createHash } from 'node:crypto';

/**
 * Deterministic UUIDs (RFC 4122 version 5, SHA-1) for story objects, so reloading a
 * story gives every scene the same id and ledger rows keep pointing at it.
 *
 * @example
 * sceneUuid('the_lighthouse_keeper', 'the_quay') // always the same UUID
 */
const STORYTELLER_NAMESPACE = '6f1c2a4e-8d3b-5c7a-9e21-4b0d7f3a1c55';

export function uuidV5(name: string, namespace: string = STORYTELLER_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The UUID of a scene: derived from the story id and the scene's key. */
export function sceneUuid(storyId: string, sceneKey: string): string {
  return uuidV5(`story:${storyId}/scene:${sceneKey}`);
}
