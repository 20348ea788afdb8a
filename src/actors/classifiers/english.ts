import winkNLP from 'wink-nlp';
import model from 'wink-eng-lite-web-model';

/**
 * The English reader under stage 1: wink-nlp with its small English model (tokens,
 * universal part-of-speech tags, lemmas). docs/playing.md says why wink-nlp rather than
 * compromise (about ten times faster on player-length inputs, better tags for the
 * first-person prose players write, lemmas for every word). Loaded once per process;
 * pure and deterministic afterwards.
 *
 * @example
 * readEnglish('I slowly hand her the letter')
 * // → [{ text: 'I', norm: 'i', lemma: 'i', pos: 'PRON' }, { …, lemma: 'slowly', pos: 'ADV' }, { …, lemma: 'hand', pos: 'VERB' }, …]
 */
export interface Token {
  /** As typed. */
  text: string;
  /** Lower case, curly apostrophes straightened. */
  norm: string;
  /** Dictionary form (lower case): "hugged" → "hug", "is" → "be". */
  lemma: string;
  /** Universal POS tag: VERB, NOUN, PROPN, PRON, ADV, ADJ, ADP, DET, AUX, CCONJ, SCONJ, PART, PUNCT, NUM, INTJ, SYM, X. */
  pos: string;
}

let nlp: ReturnType<typeof winkNLP> | null = null;

function reader(): ReturnType<typeof winkNLP> {
  // Sentence boundaries and POS only: NER, sentiment and negation are not used (and cost time).
  nlp ??= winkNLP(model, ['sbd', 'pos']);
  return nlp;
}

/** Tokens of `text`, in order. */
export function readEnglish(text: string): Token[] {
  const n = reader();
  const doc = n.readDoc(text.replace(/[’‘]/g, "'"));
  const tokens = doc.tokens();
  const texts = tokens.out();
  // The model's its-functions are typed for spans and tokens alike; both return strings here.
  const pos = tokens.out(n.its.pos as Parameters<typeof tokens.out>[0]) as unknown as string[];
  const lemmas = tokens.out(n.its.lemma as Parameters<typeof tokens.out>[0]) as unknown as string[];
  return texts.map((t, i) => ({ text: t, norm: t.toLowerCase(), lemma: (lemmas[i] ?? t).toLowerCase(), pos: pos[i] ?? 'X' }));
}
