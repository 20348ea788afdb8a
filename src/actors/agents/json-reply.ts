/**
 * Reads one JSON value from a model's reply, tolerating what models add around it
 * (``` fences, a sentence before or after the object). Throws when there is no JSON.
 * The caller validates the value with zod.
 *
 * @example
 * jsonReply('Sure!\n```json\n{"action":"wait"}\n```') // { action: 'wait' }
 */
export function jsonReply(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(trimmed)?.[1];
    if (fenced !== undefined) return JSON.parse(fenced.trim());
    const start = trimmed.indexOf('{');
    const end = trimmed.lastIndexOf('}');
    if (start >= 0 && end > start) return JSON.parse(trimmed.slice(start, end + 1));
    throw new SyntaxError('no JSON value in the reply');
  }
}
