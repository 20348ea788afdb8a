import type { LlmProvider } from '../../inference/llm/provider.ts';

/**
 * The narrator (domain.md: "Agents"): renders the turn to prose through the LLM of
 * role `narrator`, streamed chunk by chunk. It sees only what the storykeeper lets it
 * (released gates, visible goals, the reconciled beats, the world's answer) — never
 * unreleased gate content. `composeNarration` is the deterministic rendering of the same
 * context: the scripted provider speaks with it, and it is the fallback when the LLM fails.
 *
 * @example
 * const text = await narrateTurn(router.forRole('narrator'), context, (chunk) => socket.send(chunk), signal);
 */
export interface NarrationContext {
  kind: 'narrator';
  title: string;
  sceneName: string;
  atmosphere: string;
  playerText: string;
  /** What the player's act did, in the second person ("You take the iron key."). */
  act: string | null;
  refusal: string | null;
  examined: { name: string; description: string } | null;
  worldNotes: string[];
  releases: Array<{ speaker: string | null; content: string }>;
  beats: Array<{ name: string; kind: 'speech' | 'gesture' | 'act'; text: string }>;
  /** Departure or ending prose when the scene ends this turn. */
  exit: string | null;
  ending: boolean;
}

/** Deterministic, readable prose from the context. */
export function composeNarration(c: NarrationContext): string {
  const paragraphs: string[] = [];
  if (c.refusal) paragraphs.push(c.refusal);
  else {
    if (c.examined) paragraphs.push(c.examined.description);
    if (c.worldNotes.length > 0) paragraphs.push(...c.worldNotes);
    else if (c.act && !c.examined) paragraphs.push(c.act);
  }
  for (const r of c.releases) paragraphs.push(r.content);
  for (const b of c.beats) paragraphs.push(attributed(b));
  if (c.exit) paragraphs.push(c.exit);
  if (paragraphs.length === 0) paragraphs.push(c.atmosphere ? `For a moment there is only ${c.atmosphere}.` : 'Nothing answers.');
  return paragraphs.join('\n\n');
}

function attributed(b: { name: string; kind: string; text: string }): string {
  const first = b.name.split(' ')[0] ?? b.name;
  // Authored lines carry their own attribution; bare speech gets one.
  if (b.text.includes(first) || b.text.includes('"') || (b.kind !== 'speech' && /^[A-Z]/.test(b.text))) return b.text;
  // Named as the story names them ("Uncle Bram", never "Uncle").
  return b.kind === 'speech' ? `${b.name} says, "${b.text.replace(/^"|"$/g, '')}"` : `${b.name} ${b.text.charAt(0).toLowerCase()}${b.text.slice(1)}`;
}

export async function narrateTurn(llm: LlmProvider, c: NarrationContext, onChunk: (text: string) => void, signal?: AbortSignal): Promise<string> {
  const facts = [
    `Scene: ${c.sceneName}. Atmosphere: ${c.atmosphere}.`,
    `The player wrote: ${c.playerText}`,
    c.refusal ? `It could not happen: ${c.refusal}` : c.act ? `What happened: ${c.act}` : '',
    c.examined ? `They examined ${c.examined.name}: ${c.examined.description}` : '',
    ...c.worldNotes.map((n) => `The world: ${n}`),
    ...c.releases.map((r) => `Deliver now${r.speaker ? ` (spoken by ${r.speaker})` : ''}: ${r.content}`),
    ...c.beats.map((b) => `${b.name} (${b.kind}): ${b.text}`),
    c.exit ? `The scene ends: ${c.exit}` : '',
  ].filter((x) => x.length > 0);
  let text = '';
  for await (const chunk of llm.completeStreaming({
    role: 'narrator',
    system:
      'You are the narrator of an interactive story. Render the facts below as second-person literary prose, ' +
      'in order, without inventing new facts, revelations or items. Keep spoken lines verbatim.',
    messages: [{ role: 'user', content: facts.join('\n') }],
    maxTokens: 700,
    temperature: 0.8,
    ...(signal ? { signal } : {}),
    context: { ...c },
  })) {
    if (chunk.type !== 'text') continue;
    text += chunk.text;
    onChunk(chunk.text);
  }
  return text;
}
