/**
 * Truth-set benchmark (pure, in-process, no services): how long reconstruction and
 * predicate evaluation take on a long session. Writes bench/results/truth-set.json.
 *
 *   npm run bench:truth-set
 *
 * Fields:
 *   rows                          ledger rows in the synthetic session
 *   (every timing is the median of 5 runs, 9 for gates_ms)
 *   replay_ms                     reconstructTruthSet(null, rows): the crash-recovery replay
 *   replay_us_per_row
 *   apply_event_us                one applyEvent on a grown truth set (the live path)
 *   checkpoint_json_bytes         size of the final truth set as JSON
 *   checkpoint_roundtrip_us       JSON.stringify + JSON.parse + truthSetSchema
 *   sequence_ms                   Sequence of 3 patterns over all rows
 *   since_ms                      Since from the first row: replays and checks after every one of the rows
 *   gates_ms                      20 atom/combinator predicates (a turn's gate checks), all together
 *   load_avg_1m                   the machine's load while it ran (the team's machine is shared)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import type { NewEvent } from '../src/domain/events.ts';
import { evaluatePredicate } from '../src/domain/predicate-eval.ts';
import type { TriggerPredicate } from '../src/domain/predicates.ts';
import { applyEvent, emptyTruthSet, reconstructTruthSet, truthSetSchema, type TruthEvent } from '../src/domain/truth-set.ts';

const ROWS = 10_000;
const SCENE = '00000000-0000-4000-8000-0000000000b1';

/** Deterministic pseudo-random numbers (LCG), so every run measures the same session. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function syntheticSession(rows: number): TruthEvent[] {
  const rnd = lcg(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const people = ['player', 'mara', 'tom', 'ada', 'keeper'];
  const items = Array.from({ length: 40 }, (_, i) => `item${i}`);
  const places = ['hall', 'cellar', 'garden', 'tower', 'shore'];
  const out: TruthEvent[] = [];
  let turn = 0;
  const push = (e: Pick<NewEvent, 'type' | 'data'>) => out.push({ ...e, narrativeTs: out.length + 1, id: out.length + 1, turn } as TruthEvent);
  while (out.length < rows) {
    const r = rnd();
    if (r < 0.15) {
      turn += 1;
      push({ type: 'PlayerInput', data: { clientInputId: `c${turn}`, text: `I ${pick(['take', 'look at', 'ask about'])} the ${pick(items)}` } });
    } else if (r < 0.3) push({ type: 'ActionPerformed', data: { actor: pick(people), action: pick(['take', 'give', 'drop', 'wave']), target: pick(items), recipient: pick(people) } });
    else if (r < 0.4) push({ type: 'SpeechAct', data: { speaker: pick(people), addressee: pick(people), content: 'a few words about the lighthouse' } });
    else if (r < 0.48) push({ type: 'MovementAction', data: { actor: pick(people), from: pick(places), to: pick(places) } });
    else if (r < 0.55) push({ type: 'RelationshipShifted', data: { from: pick(people), to: pick(people), dimension: 'affection', delta: rnd() - 0.5 } });
    else if (r < 0.65) {
      push({
        type: 'InterpretiveJudgment',
        data: {
          id: `j${out.length}`, category: pick(['TrustShift', 'EmotionExpressed', 'EmotionalRegisterShift'] as const), subject: pick(people),
          confidence: Math.round(rnd() * 100) / 100, evidence: [out.length], description: 'observed', source: { kind: 'classifier' }, provisional: true,
        },
      });
    } else if (r < 0.7) push({ type: 'WorldStateChanged', data: { key: `k${Math.floor(rnd() * 30)}`, old: null, new: Math.floor(rnd() * 5) } });
    else if (r < 0.75) push({ type: 'InformationRevealed', data: { gateId: `g${Math.floor(rnd() * 50)}`, recipient: pick(people) } });
    else if (r < 0.78) push({ type: 'SceneEntered', data: { sceneId: SCENE, sceneKey: pick(places), characters: people.filter(() => rnd() < 0.5) } });
    else if (r < 0.85) push({ type: 'CharacterArrival', data: { character: pick(people), sceneId: SCENE } });
    else if (r < 0.9) push({ type: 'CharacterDeparture', data: { character: pick(people), sceneId: SCENE, significance: 'casual' } });
    else if (r < 0.95) push({ type: 'ExaminationAction', data: { actor: 'player', target: pick(items) } });
    else push({ type: 'TurnCompleted', data: { inputId: out.length, turn, degraded: [] } });
  }
  return out;
}

/** Median of `runs` timings (the first runs pay for JIT compilation). */
function time<T>(fn: () => T, runs = 5): { ms: number; value: T } {
  const samples: number[] = [];
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    value = fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)] as number, value };
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

function main(): void {
  const rows = syntheticSession(ROWS);
  reconstructTruthSet(null, rows.slice(0, 2000)); // warm-up (JIT)

  const replay = time(() => reconstructTruthSet(null, rows));
  const final = replay.value;

  const APPLY_N = 2_000;
  const apply = time(() => {
    let ts = final;
    for (let i = 0; i < APPLY_N; i++) ts = applyEvent(ts, { ...rows[i]!, narrativeTs: ROWS + i + 1 });
    return ts;
  });

  const json = JSON.stringify(final);
  const ROUNDTRIPS = 500;
  const roundtrip = time(() => {
    for (let i = 0; i < ROUNDTRIPS; i++) truthSetSchema.parse(JSON.parse(JSON.stringify(final)));
  });

  const ctx = { truthSet: final, history: rows };
  const sequence = time(() =>
    evaluatePredicate({ sequence: { events: [{ type: 'PlayerInput', topic: 'lighthouse' }, { type: 'ActionPerformed', action: 'take' }, { type: 'InformationRevealed' }], within: 20 } }, ctx),
  );
  const sinceP: TriggerPredicate = { since: { event: { eventId: 1 }, holds: { not: { characterPresent: 'nobody' } } } };
  const since = time(() => evaluatePredicate(sinceP, ctx));

  const gatePredicates: TriggerPredicate[] = Array.from({ length: 20 }, (_, i) => ({
    all: [
      { holds: { predicate: 'knows', args: ['player', `g${i}`] } },
      { any: [{ characterPresent: 'mara' }, { judgment: { category: 'TrustShift', subject: 'mara', minConfidence: 0.5 } }] },
      { not: { worldState: { key: `k${i}`, equals: 3 } } },
    ],
  }));
  const gates = time(() => gatePredicates.map((p) => evaluatePredicate(p, ctx)), 9);

  const result = {
    rows: ROWS,
    replay_ms: round(replay.ms),
    replay_us_per_row: round((replay.ms * 1000) / ROWS),
    apply_event_us: round((apply.ms * 1000) / APPLY_N),
    checkpoint_json_bytes: json.length,
    checkpoint_roundtrip_us: round((roundtrip.ms * 1000) / ROUNDTRIPS),
    sequence_ms: round(sequence.ms),
    since_ms: round(since.ms),
    gates_ms: round(gates.ms),
    persistent_propositions: final.persistent.length,
    judgments: final.judgments.length,
    load_avg_1m: round(loadavg()[0] ?? 0),
    node: process.version,
  };
  console.log('\ntruth set — synthetic session of', ROWS, 'ledger rows\n');
  console.table(Object.entries(result).map(([metric, value]) => ({ metric, value })));
  void mkdir(new URL('./results/', import.meta.url), { recursive: true })
    .then(() => writeFile(new URL('./results/truth-set.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`))
    .then(() => console.log('wrote bench/results/truth-set.json'));
}

main();
