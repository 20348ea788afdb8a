import { z } from 'zod';
import { isStorytellerError } from '../../errors.ts';
import type { LlmProvider } from '../../inference/llm/provider.ts';
import { canonicalVerb, isKnownVerb } from '../../domain/story/verb-synonyms.ts';
import { jsonReply } from '../agents/json-reply.ts';
import type { LexiconEntry } from './lexicon.ts';
import type { ActionKind, ParsedClause, ParsedInput } from './stage1.ts';

/**
 * Optional LLM decomposition for stage 1 (issue 12 §2; the storyteller project moved its
 * event classification to a small LLM with rules for arbitration). When the LLM role
 * `classifier` is configured and the rules are unsure of an input — a verb the shipped
 * table does not know, or nouns that name nothing in the story — the provider is asked
 * for a structured decomposition (JSON-schema output) of the input into clauses over
 * the scene's own ids. The rules arbitrate what comes back:
 *   - output that is not valid JSON of the schema, a timeout, or a provider error → the
 *     rules' parse answers alone;
 *   - ids not present in the scene are dropped (the LLM cannot bring an absent person
 *     or a thing out of reach into play; the rules' `absent` list stands);
 *   - meta commands, quoted speech and inputs the rules are sure of never reach the LLM;
 *   - the rules' manner, keywords and absent names are kept on every clause.
 * The result says which decided it (`decomposition.by`), and why the LLM did not.
 *
 * @example
 * const parsed = await decomposeInput(router.forRole('classifier'), text, rules, lexicon, { timeoutMs: 1500 });
 * parsed.decomposition // { by: 'llm' } | { by: 'rules', reason: 'timeout' }
 */
export interface Decomposition {
  by: 'rules' | 'llm';
  /** Why the rules answered: 'sure' (the LLM was not asked), 'timeout', 'invalid', 'error', 'vetoed'. */
  reason?: 'sure' | 'timeout' | 'invalid' | 'error' | 'vetoed';
}

export const DECOMPOSITION_KINDS = ['action', 'speech', 'question', 'examination', 'movement'] as const;

const id = z.string().min(1).max(200);
export const decompositionSchema = z.object({
  clauses: z
    .array(
      z.object({
        kind: z.enum(DECOMPOSITION_KINDS),
        verb: z.string().min(1).max(40).regex(/^[a-z][a-z_ -]*$/i),
        target: id.optional(),
        addressee: id.optional(),
        recipient: id.optional(),
        destination: id.optional(),
        topic: z.string().min(1).max(200).optional(),
      }),
    )
    .min(1)
    .max(4),
});
export type DecompositionReply = z.infer<typeof decompositionSchema>;

export const DECOMPOSITION_JSON_SCHEMA: Record<string, unknown> = {
  type: 'object',
  required: ['clauses'],
  additionalProperties: false,
  properties: {
    clauses: {
      type: 'array',
      minItems: 1,
      maxItems: 4,
      items: {
        type: 'object',
        required: ['kind', 'verb'],
        additionalProperties: false,
        properties: {
          kind: { type: 'string', enum: [...DECOMPOSITION_KINDS] },
          verb: { type: 'string', description: 'the verb in its dictionary form, e.g. hug, give, ask' },
          target: { type: 'string', description: 'id of the thing or person acted on' },
          addressee: { type: 'string', description: 'id of the person spoken to' },
          recipient: { type: 'string', description: 'id of the person who receives (give, show)' },
          destination: { type: 'string', description: 'id of the place to go to' },
          topic: { type: 'string', description: 'what is asked or talked about, in a few words' },
        },
      },
    },
  },
};

/** Does stage 1 want a second opinion? A verb it does not know, or nouns that name nothing. */
export function rulesUnsure(p: ParsedInput): boolean {
  if (p.kind === 'meta') return false;
  const clauses = p.clauses.length > 0 ? p.clauses : [p];
  return clauses.some((c) => (c.kind === 'action' && !isKnownVerb(c.lemma ?? c.verb)) || (c.unknown?.length ?? 0) > 0);
}

export interface DecomposeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  sessionId?: string;
}

/** The arbitrated parse: the LLM's decomposition vetted by the rules, or the rules' own. */
export async function decomposeInput(llm: LlmProvider, text: string, rules: ParsedInput, entries: readonly LexiconEntry[], options: DecomposeOptions): Promise<ParsedInput & { decomposition: Decomposition }> {
  const keep = (reason: NonNullable<Decomposition['reason']>) => ({ ...rules, decomposition: { by: 'rules', reason } satisfies Decomposition });
  if (!rulesUnsure(rules)) return keep('sure');
  const present = new Map<string, LexiconEntry['kind']>();
  for (const e of entries) if (e.present && !present.has(e.id)) present.set(e.id, e.kind);
  const vocabulary = [...present].map(([k, kind]) => `${kind} ${k}: ${entries.filter((e) => e.id === k).map((e) => e.phrase).slice(0, 4).join(' / ')}`);
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let reply: string;
  try {
    const response = await llm.complete({
      role: 'classifier',
      system:
        'You decompose one player input of interactive fiction into the acts it describes, in order. ' +
        'Use only the ids listed for the scene; leave a field out rather than guess. First-person narration ("I slowly …") is an act, not speech. ' +
        'Reply with JSON only: {"clauses":[{"kind","verb","target","addressee","recipient","destination","topic"}]}.',
      messages: [{ role: 'user', content: `Scene vocabulary:\n${vocabulary.join('\n')}\n\nPlayer input: ${text}` }],
      maxTokens: 300,
      temperature: 0,
      jsonSchema: DECOMPOSITION_JSON_SCHEMA,
      signal,
      timeoutMs: options.timeoutMs,
      ...(options.sessionId ? { sessionId: options.sessionId } : {}),
      context: { kind: 'classifier', text, rules: rules.clauses.map((c) => ({ kind: c.kind, verb: c.verb, ...(c.entity ? { target: c.entity } : {}) })) },
    });
    reply = response.text;
  } catch (error) {
    if (timeout.aborted) return keep('timeout');
    // The router checks structured replies against the schema: a reply that fails it is invalid output, not an outage.
    return keep(failedOn(error, 'LLM_OUTPUT_INVALID') ? 'invalid' : 'error');
  }
  let parsed: DecompositionReply;
  try {
    parsed = decompositionSchema.parse(jsonReply(reply));
  } catch {
    return keep('invalid');
  }
  const clauses = parsed.clauses.map((c) => clauseFrom(c, text, rules, present));
  // A decomposition the rules cannot place in this scene at all is no better than theirs.
  if (clauses.every((c) => c.kind === 'action' && c.mentions.length === 0 && !isKnownVerb(c.verb))) return keep('vetoed');
  const [first] = clauses as [ParsedClause, ...ParsedClause[]];
  return { ...first, clauses, decomposition: { by: 'llm' } };
}

function failedOn(error: unknown, code: string): boolean {
  if (!isStorytellerError(error)) return false;
  if (error.code === code) return true;
  const attempts = (error.details as { attempts?: Array<{ code?: string }> } | undefined)?.attempts ?? [];
  return attempts.length > 0 && attempts.every((a) => a.code === code);
}

const VERB_OF_KIND: Record<Exclude<ActionKind, 'action' | 'meta'>, string> = { speech: 'say', question: 'ask', examination: 'look', movement: 'go' };

function clauseFrom(c: DecompositionReply['clauses'][number], raw: string, rules: ParsedInput, present: ReadonlyMap<string, LexiconEntry['kind']>): ParsedClause {
  const known = (x: string | undefined, ...kinds: Array<LexiconEntry['kind']>) => (x !== undefined && kinds.includes(present.get(x) as LexiconEntry['kind']) ? x : undefined);
  const lemma = c.verb.toLowerCase().trim().replace(/[ -]+/g, '_');
  const kind: ActionKind = c.kind;
  const target = known(c.target, 'entity', 'character');
  const addressee = kind === 'speech' || kind === 'question' ? known(c.addressee ?? c.target, 'character') : undefined;
  const recipient = known(c.recipient, 'character');
  const destination = kind === 'movement' ? known(c.destination ?? c.target, 'setting') : undefined;
  const mentions = [target, addressee, recipient, destination]
    .filter((x, i, all): x is string => x !== undefined && all.indexOf(x) === i)
    .map((m) => ({ id: m, kind: present.get(m) as LexiconEntry['kind'] }));
  const topicWords = (c.topic ?? '').toLowerCase().split(/[^\p{L}\p{N}']+/u).filter((w) => w.length > 2);
  return {
    raw,
    kind,
    verb: kind === 'action' ? canonicalVerb(lemma) : VERB_OF_KIND[kind],
    lemma,
    mentions,
    keywords: [...new Set([...rules.keywords, ...topicWords])],
    manner: rules.manner,
    ...(target && kind !== 'speech' && kind !== 'question' ? { entity: target } : {}),
    ...(addressee ? { addressee } : {}),
    ...(recipient ? { recipient } : {}),
    ...(destination ? { destination } : {}),
    ...(kind === 'speech' || kind === 'question' ? { content: c.topic ?? raw } : {}),
    ...(rules.absent && rules.absent.length > 0 ? { absent: rules.absent } : {}),
  };
}
