import { writeFile } from 'node:fs/promises';

/**
 * Writes a tiny llama-architecture GGUF (v3) with seeded random F32 weights and a byte-level
 * SentencePiece-style vocabulary (<unk>, <s>, </s>, then <0x00>…<0xFF>), so node-llama-cpp can
 * load it and generate without any download. dim 32, 2 blocks, 4 heads — about 150 KB.
 *
 * @example
 * await writeTinyLlamaGguf('/tmp/tiny.gguf', { seed: 7 });
 */
export interface TinyGgufOptions {
  seed?: number;
  embeddingLength?: number;
  blockCount?: number;
  feedForwardLength?: number;
  headCount?: number;
  contextLength?: number;
}

const ALIGNMENT = 32;
const GGML_TYPE_F32 = 0;
// GGUF metadata value types
const T_UINT32 = 4;
const T_INT32 = 5;
const T_FLOAT32 = 6;
const T_STRING = 8;
const T_ARRAY = 9;

type Kv =
  | { key: string; type: 'u32'; value: number }
  | { key: string; type: 'f32'; value: number }
  | { key: string; type: 'str'; value: string }
  | { key: string; type: 'strs'; value: string[] }
  | { key: string; type: 'f32s'; value: number[] }
  | { key: string; type: 'i32s'; value: number[] };

interface Tensor {
  name: string;
  dims: number[]; // ggml order: ne0 first (the contiguous dimension)
  data: Float32Array;
}

/** mulberry32: small seeded PRNG so the file is byte-identical for a seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Writer {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  pad(): void {
    const rem = this.length % ALIGNMENT;
    if (rem !== 0) this.push(Buffer.alloc(ALIGNMENT - rem));
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeKv(w: Writer, kv: Kv): void {
  w.str(kv.key);
  switch (kv.type) {
    case 'u32': w.u32(T_UINT32); w.u32(kv.value); break;
    case 'f32': w.u32(T_FLOAT32); w.f32(kv.value); break;
    case 'str': w.u32(T_STRING); w.str(kv.value); break;
    case 'strs': w.u32(T_ARRAY); w.u32(T_STRING); w.u64(kv.value.length); kv.value.forEach((s) => w.str(s)); break;
    case 'f32s': w.u32(T_ARRAY); w.u32(T_FLOAT32); w.u64(kv.value.length); kv.value.forEach((v) => w.f32(v)); break;
    case 'i32s': w.u32(T_ARRAY); w.u32(T_INT32); w.u64(kv.value.length); kv.value.forEach((v) => w.i32(v)); break;
  }
}

/** Builds the GGUF bytes (exported for tests that want them in memory). */
export function buildTinyLlamaGguf(options: TinyGgufOptions = {}): Buffer {
  const nEmbd = options.embeddingLength ?? 32;
  const nBlocks = options.blockCount ?? 2;
  const nFf = options.feedForwardLength ?? 64;
  const nHead = options.headCount ?? 4;
  const nCtx = options.contextLength ?? 256;
  const rand = prng(options.seed ?? 1);

  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // UNKNOWN, CONTROL, CONTROL
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // BYTE
  }
  const nVocab = tokens.length;

  const kvs: Kv[] = [
    { key: 'general.architecture', type: 'str', value: 'llama' },
    { key: 'general.name', type: 'str', value: 'storyteller-tiny-test' },
    { key: 'general.alignment', type: 'u32', value: ALIGNMENT },
    { key: 'llama.context_length', type: 'u32', value: nCtx },
    { key: 'llama.embedding_length', type: 'u32', value: nEmbd },
    { key: 'llama.block_count', type: 'u32', value: nBlocks },
    { key: 'llama.feed_forward_length', type: 'u32', value: nFf },
    { key: 'llama.attention.head_count', type: 'u32', value: nHead },
    { key: 'llama.attention.head_count_kv', type: 'u32', value: nHead },
    { key: 'llama.rope.dimension_count', type: 'u32', value: nEmbd / nHead },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 'f32', value: 1e-5 },
    { key: 'llama.vocab_size', type: 'u32', value: nVocab },
    { key: 'tokenizer.ggml.model', type: 'str', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'strs', value: tokens },
    { key: 'tokenizer.ggml.scores', type: 'f32s', value: tokens.map(() => 0) },
    { key: 'tokenizer.ggml.token_type', type: 'i32s', value: types },
    { key: 'tokenizer.ggml.bos_token_id', type: 'u32', value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: 'u32', value: 2 },
    { key: 'tokenizer.ggml.unknown_token_id', type: 'u32', value: 0 },
  ];

  const random = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
  const tensors: Tensor[] = [
    { name: 'token_embd.weight', dims: [nEmbd, nVocab], data: random(nEmbd * nVocab, 0.5) },
    { name: 'output_norm.weight', dims: [nEmbd], data: ones(nEmbd) },
    { name: 'output.weight', dims: [nEmbd, nVocab], data: random(nEmbd * nVocab, 0.5) },
  ];
  for (let i = 0; i < nBlocks; i++) {
    const p = `blk.${i}.`;
    tensors.push(
      { name: `${p}attn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `${p}attn_q.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.2) },
      { name: `${p}attn_k.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.2) },
      { name: `${p}attn_v.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.2) },
      { name: `${p}attn_output.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.2) },
      { name: `${p}ffn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `${p}ffn_gate.weight`, dims: [nEmbd, nFf], data: random(nEmbd * nFf, 0.2) },
      { name: `${p}ffn_up.weight`, dims: [nEmbd, nFf], data: random(nEmbd * nFf, 0.2) },
      { name: `${p}ffn_down.weight`, dims: [nFf, nEmbd], data: random(nFf * nEmbd, 0.2) },
    );
  }

  const w = new Writer();
  w.push(Buffer.from('GGUF', 'ascii'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(kvs.length);
  kvs.forEach((kv) => writeKv(w, kv));
  let offset = 0;
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.dims.length);
    t.dims.forEach((d) => w.u64(d));
    w.u32(GGML_TYPE_F32);
    w.u64(offset);
    offset += Math.ceil(t.data.byteLength / ALIGNMENT) * ALIGNMENT;
  }
  w.pad();
  for (const t of tensors) {
    w.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    w.pad();
  }
  return w.buffer();
}

/** Writes the tiny model to `path` and returns the path. */
export async function writeTinyLlamaGguf(path: string, options: TinyGgufOptions = {}): Promise<string> {
  await writeFile(path, buildTinyLlamaGguf(options));
  return path;
}
