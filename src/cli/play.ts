import { terminalSafe } from './terminal-text.ts';
import { createInterface } from 'node:readline';
import type { Config } from '../config.ts';
import type { NarratorWarm, StorykeeperOutput } from '../actors/story-behaviour.ts';
import { createStoryBehaviour } from '../actors/create-story-behaviour.ts';
import { loadStoryFile } from '../domain/story/loader.ts';
import type { Story } from '../domain/story/schema.ts';
import { helpFor } from './help.ts';
import { chooseStory, rememberStory } from './last-played.ts';
import { SessionEngine, type SessionHandle } from '../engine/engine.ts';
import { createLogger } from '../logger.ts';
import { describePrediction, type FrameObserver } from '../actors/frame-observer.ts';
import { openGraphStore } from '../persistence/graph/open-graph-store.ts';
import { ensureLedgerPartitions } from '../persistence/ledger-partitions.ts';
import { migrate } from '../persistence/migrations.ts';
import { openDatabase } from '../persistence/open-database.ts';
import { PgliteDatabase } from '../persistence/pglite-database.ts';
import { openWorkflows, type OpenedWorkflows } from '../workflows/open-workflows.ts';
import { describeDeferred, titleCaseId } from '../workflows/deferred-summary.ts';

/**
 * The terminal client: `storyteller play` / `npm start`. With no configuration it opens
 * the embedded PGlite database under ./data, migrates it, loads the default story,
 * starts the session engine in-process and plays in the terminal: streamed narration,
 * the input acknowledgement, gates and goals as they fire, `/help`, `/hint`, `/save`,
 * `/quit`. Non-TTY stdin works (one input per line), so a game can be scripted:
 *
 *   printf 'look\nask Ewan about the light\n' | npm start
 *
 * `--local` plays the same story through the same engine on an in-memory PGlite database:
 * nothing is kept after the game.
 */
export interface PlayOptions {
  storyPath?: string;
  /** Play on an in-memory database: nothing is kept. */
  local?: boolean;
  /** Start a new game even if an unfinished one of this story exists (default: resume it). */
  fresh?: boolean;
  /** Print every frame (decoded prediction + frame text) as it is computed (`--show-frames`). */
  showFrames?: boolean;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream & { isTTY?: boolean };
}

interface TurnOutcome {
  ended: boolean;
  /** The input was refused (e.g. LEDGER_PAYLOAD_INVALID for an over-long line): nothing was played. */
  rejected?: string;
}

/** What the terminal talks to: the session engine (on the configured database, or in memory for --local). */
interface Backend {
  /** An unfinished game will be resumed by start(). */
  readonly resumes: boolean;
  /** The newest earlier game of this story reached its end (so this one starts fresh). */
  readonly previousEnded: boolean;
  /** Completed turns of the game being played. */
  turnsPlayed(): number;
  start(): Promise<void>;
  send(text: string): Promise<TurnOutcome>;
  save(): Promise<string>;
  close(): Promise<void>;
}

interface Ui {
  /** A scene was entered; `hint` is its first progressive hint (from the warm narrator context). */
  scene(key: string, hint?: string | null): void;
  chunk(text: string): void;
  /** The input is durable (`saved`; in --local it is only accepted); `turn` is the player's turn number in this game. */
  ack(turn: number, saved?: boolean): void;
  verdict(output: StorykeeperOutput): void;
  /** The narration of a turn is complete (before any scene change is shown). */
  answered(): void;
  /** A deferred scene-boundary result arrived mid-play: one line on what rippled. */
  rippled(text: string): void;
  /** `--show-frames`: prints each frame. */
  frame?: FrameObserver;
}

export { helpFor };

export async function playInTerminal(config: Config, options: PlayOptions = {}): Promise<void> {
  const out = options.output ?? process.stdout;
  const tty = out.isTTY === true;
  const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
  const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
  const write = (s: string) => out.write(s);
  // --story, else STORYTELLER_STORY, else the story played last, else the sample (src/cli/last-played.ts).
  const choice = chooseStory(config, options.storyPath);
  const story = await loadStoryFile(choice.path);
  let lastHint: string | null = story.scenes.find((s) => s.id === story.start)?.hints[0] ?? null;
  let currentScene = story.start;
  let verdict: StorykeeperOutput | null = null;
  // A ripple that arrives while narration streams waits for the end of the narration.
  let streaming = false;
  const held: string[] = [];

  const ui: Ui = {
    scene(key, hint) {
      const scene = story.scenes.find((s) => s.id === key);
      if (!scene) return;
      lastHint = hint ?? scene.hints[0] ?? null;
      currentScene = key;
      write(`\n${bold(`── ${terminalSafe(scene.name)} ──`)}\n${wrap(terminalSafe(scene.description))}\n`);
    },
    // Narration quotes the player's words: nothing typed or generated reaches the terminal raw.
    chunk: (text) => {
      streaming = true;
      write(terminalSafe(text));
    },
    rippled(text) {
      const line = dim(`  ~ ${terminalSafe(text)}\n`);
      if (streaming) held.push(line);
      else write(line);
    },
    ack: (turn, saved = true) => write(dim(saved ? `  (turn ${turn} saved)\n` : `  (turn ${turn})\n`)),
    verdict(output) {
      verdict = output;
    },
    answered() {
      write('\n');
      streaming = false;
      for (const line of held.splice(0)) write(line);
      if (!verdict) return;
      for (const r of verdict.released) write(dim(`  ◆ revealed: ${r.gateId}\n`));
      for (const g of verdict.goalsCompleted) if (g.visibility === 'overt' || g.visibility === 'signaled') write(dim(`  ★ goal complete: ${terminalSafe(g.description)}\n`));
      if (verdict.hint) lastHint = verdict.hint;
      verdict = null;
    },
  };

  if (options.showFrames) ui.frame = showFrame(write, dim);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  // --local runs the same engine on an in-memory database: one turn pipeline, nothing kept.
  const backend = await engineBackend(config, story, ui, logger, { fresh: options.fresh === true, memory: options.local === true });

  write(`\n${bold(terminalSafe(story.title.toUpperCase()))}\n`);
  if (choice.why === 'last-played') write(dim(`(${terminalSafe(story.title)} — the story you played last, ${choice.path}. \`--story FILE\` plays another.)\n`));
  const resumed = backend.resumes;
  const intro = () => write(`\n${wrap(terminalSafe(story.intro))}\n${dim('(Type /help for commands.)')}\n`);
  // The intro comes before the first scene; a resumed game says so instead.
  ui.scene = ((show) => (key: string, hint?: string | null) => {
    if (!resumed && !introShown) {
      introShown = true;
      intro();
    }
    show(key, hint);
  })(ui.scene);
  let introShown = false;
  if (resumed) write(dim(`\n(Resuming your unfinished game of ${story.title}.)\n`));
  else if (backend.previousEnded) write(dim(`\n(Your last game of ${story.title} reached its end; this is a new one.)\n`));
  await backend.start();
  if (resumed) write(dim(`(${backend.turnsPlayed()} turn${backend.turnsPlayed() === 1 ? '' : 's'} played so far; \`npm start -- --new\` starts over.)\n`));
  // Only a game kept in the database is one `npm start` can come back to.
  if (!options.local) rememberStory(config, choice.path, story);

  const rl = createInterface({ input: options.input ?? process.stdin, terminal: false });
  // Ctrl-C / SIGTERM: stop reading, finish the turn in flight, then the engine shuts down
  // gracefully (ledger flushed, checkpoint, session suspended). A second signal exits at once.
  const onSignal = (signal: NodeJS.Signals) => {
    process.once(signal, () => process.exit(130));
    write(dim('\n(Stopping: saving your place…)\n'));
    rl.close();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const prompt = () => write(tty ? '\n> ' : '\n');
  prompt();
  let ended = false;
  try {
    for await (const raw of rl) {
      const typed = raw.trim();
      if (!tty) write(`> ${terminalSafe(typed)}\n`);
      // The commands work with or without their slash ("quit", "help", "hint").
      const line = /^(quit|exit|help|hint|save)$/i.test(typed) ? `/${typed.toLowerCase()}` : typed;
      if (line.length === 0) {
        prompt();
        continue;
      }
      if (line === '/quit' || line === '/exit') break;
      if (line === '/help') {
        write(helpFor(story, currentScene));
        prompt();
        continue;
      }
      if (line === '/hint') {
        write(`${lastHint ? `Hint: ${terminalSafe(lastHint)}` : 'No hint here — look around, and talk to people.'}\n`);
        prompt();
        continue;
      }
      if (line === '/save') {
        write(`${await backend.save()}\n`);
        prompt();
        continue;
      }
      const outcome = await backend.send(line);
      if (outcome.rejected) write(dim(`(not accepted — ${terminalSafe(outcome.rejected)})\n`));
      if (outcome.ended) {
        ended = true;
        write(`\n${bold('THE END')}\n`);
        break;
      }
      prompt();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rl.close();
    if (!ended) write(dim(options.local ? '\nNothing is kept: --local play lives in memory only. Goodbye.\n' : '\nYour place is kept. Goodbye.\n'));
    await backend.close();
  }
}

function wrap(text: string, width = 88): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > width && line.length > 0) {
      out.push(line);
      line = word;
    } else line = line.length === 0 ? word : `${line} ${word}`;
  }
  if (line) out.push(line);
  return out.join('\n');
}

async function engineBackend(config: Config, story: Story, ui: Ui, logger: ReturnType<typeof createLogger>, mode: { fresh: boolean; memory: boolean }): Promise<Backend> {
  const db = mode.memory ? await PgliteDatabase.open() : await openDatabase(config);
  const fresh = mode.fresh || mode.memory;
  await migrate(db);
  // This month's and the next ledger partitions (docs/ledger-retention.md); a terminal game needs no daily run.
  await ensureLedgerPartitions(db);
  const graph = await openGraphStore(db, config);
  const setup = await createStoryBehaviour({ db, graph, config, logger, story, onStorykeeper: (_id, o) => ui.verdict(o), ...(ui.frame ? { onFrame: ui.frame } : {}) });
  const behaviour = setup.behaviour;
  // The deferred scene-boundary pipeline (docs/workflows.md): in-process on the embedded default.
  let workflows: OpenedWorkflows | null = null;
  const engine = new SessionEngine({
    db,
    behaviour,
    graph,
    logger,
    onSceneExitCommitted: () => workflows?.bridge.wake(),
    gracePeriodMs: config.gracePeriodMs,
    checkpointFullEvery: config.checkpoints.fullEvery,
    ledgerOptions: { maxPayloadBytes: config.ledger.maxPayloadBytes, maxBatch: config.ledger.maxBatch, flushMs: config.ledger.eventFlushMs, logger },
  });
  workflows = await openWorkflows({ config, db, graph, logger, sessions: { get: (id) => engine.get(id) } });
  const opened = workflows;
  let handle: SessionHandle | null = null;
  let seq = 0;
  let turnsBefore = 0;
  let ended = false;
  let pendingAnswer: { resolve: (o: TurnOutcome) => void; reject: (e: Error) => void; clientInputId: string } | null = null;

  // Resume the newest unfinished game of this story (its checkpoint + ledger), unless asked for a new one.
  const { rows } = fresh
    ? { rows: [] }
    : await db.query<{ id: string }>(`SELECT id FROM sessions WHERE story_id = $1 AND status <> 'ended' ORDER BY updated_at DESC LIMIT 1`, [story.id]);
  const resumeId = rows[0]?.id;
  const previous = resumeId || fresh ? { rows: [] } : await db.query<{ status: string }>(`SELECT status FROM sessions WHERE story_id = $1 ORDER BY updated_at DESC LIMIT 1`, [story.id]);
  return {
    resumes: resumeId !== undefined,
    previousEnded: previous.rows[0]?.status === 'ended',
    turnsPlayed: () => (handle ? ((handle.actor.getSnapshot() as { context?: { turn?: number } }).context?.turn ?? 0) : 0),
    async start() {
      handle = resumeId ? await engine.open(resumeId) : await engine.createSession({ storyId: story.id });
      const h = handle;
      let markEntered: () => void = () => {};
      const entered = new Promise<void>((resolve) => {
        markEntered = resolve;
      });
      h.on('sceneEntered', (e) => {
        ui.scene(e.sceneKey, warmHint(h.actor.getSnapshot().context.warm));
        markEntered();
      });
      // The player's turn number (turns completed before this run + inputs acknowledged in it), not the
      // ledger id. Not read from the machine at ack time: by then the turn it starts may already be counted.
      let acked = 0;
      h.on('ack', (a) => {
        if (a.duplicate) return;
        acked += 1;
        ui.ack(turnsBefore + acked, !mode.memory);
      });
      h.on('chunk', (c) => ui.chunk(c.text));
      const names = new Map(story.characters.map((c) => [c.id, c.name]));
      h.on('deferred.applied', (e) => {
        const line = describeDeferred(e.result, (id) => names.get(id) ?? titleCaseId(id));
        if (line) ui.rippled(line);
      });
      h.on('sceneExited', (e) => {
        if (e.nextSceneKey === null) ended = true;
      });
      h.on('answer', (a) => {
        if (pendingAnswer?.clientInputId !== a.clientInputId) return;
        ui.answered();
        const p = pendingAnswer;
        pendingAnswer = null;
        // The answer arrives before the scene exit; let the exit (and the next scene's entry) land first.
        setImmediate(() => p.resolve({ ended }));
      });
      const fail = (message: string) => {
        if (pendingAnswer) pendingAnswer.reject(new Error(message));
      };
      // A refused input is the player's to fix, not the end of the game.
      h.on('inputRejected', (r) => {
        if (pendingAnswer?.clientInputId !== r.clientInputId) return;
        const p = pendingAnswer;
        pendingAnswer = null;
        p.resolve({ ended: false, rejected: `${r.error.code}: ${r.error.message}` });
      });
      h.on('failed', (f) => fail(`the session failed: ${f.error.code}: ${f.error.message}`));
      await entered;
      turnsBefore = (h.actor.getSnapshot() as { context?: { turn?: number } }).context?.turn ?? 0;
    },
    async send(text) {
      if (!handle) throw new Error('not started');
      seq += 1;
      const clientInputId = `tty-${Date.now()}-${seq}`;
      const h = handle;
      const attempt = () =>
        new Promise<TurnOutcome>((resolve, reject) => {
          pendingAnswer = { resolve, reject, clientInputId };
          h.input(clientInputId, text);
        });
      // The database was unreachable (the outcome may be unknown): retransmit with the SAME
      // clientInputId, so a row that did commit comes back as the original and is played once.
      let outcome = await attempt();
      for (let retry = 0; retry < STORAGE_RETRIES && outcome.rejected?.startsWith('STORAGE_UNAVAILABLE'); retry += 1) {
        await new Promise((r) => setTimeout(r, 250 * 2 ** retry));
        outcome = await attempt();
      }
      // A scene change (exit transaction, next scene's entry) finishes before the next input is read.
      await settled(h);
      return { ended: outcome.ended || ended || h.lifecycle === 'ended', ...(outcome.rejected ? { rejected: outcome.rejected } : {}) };
    },
    async save() {
      if (!handle) return 'Nothing to save yet.';
      const h = handle;
      const saved = new Promise<string>((resolve) => {
        const off = h.on('checkpointed', (c) => {
          off();
          resolve(mode.memory ? `Saved in memory only (checkpoint ${c.checkpointId.slice(0, 8)}): --local keeps nothing after you quit.` : `Saved (checkpoint ${c.checkpointId.slice(0, 8)}).`);
        });
      });
      h.save();
      return saved;
    },
    async close() {
      await engine.shutdown();
      await opened.close();
      await setup.close();
      await graph.close();
      await db.close();
    },
  };
}

/** Retransmissions of an input refused with STORAGE_UNAVAILABLE (0.25 s doubling: about 8 s in all). */
const STORAGE_RETRIES = 5;

/** The progressive hint the story behaviour computed at scene entry (its warm narrator context). */
function warmHint(warm: { narrator?: unknown } | null | undefined): string | null {
  const hint = (warm?.narrator as Partial<NarratorWarm> | undefined)?.hint;
  return typeof hint === 'string' ? hint : null;
}

/** Resolves when the session is back in play (after a scene change) or has stopped. */
function settled(h: SessionHandle): Promise<void> {
  const done = () => ['playing', 'ended', 'failed', 'suspended'].includes(h.lifecycle);
  return new Promise((resolve) => {
    if (done()) return resolve();
    const sub = h.actor.subscribe(() => {
      if (!done()) return;
      sub.unsubscribe();
      resolve();
    });
  });
}

/** `--show-frames`: each frame's decoded prediction and its text, dimmed, as it is computed. */
function showFrame(write: (s: string) => void, dim: (s: string) => string): FrameObserver {
  return (r) => {
    const when = r.phase === 'scene_entry' ? 'scene entry' : `turn ${r.turn}`;
    write(dim(`  ┆ frame ${r.characterId} (${when}, ${r.schema}): ${describePrediction(r.prediction)}\n`));
    write(dim(`${r.text.split('\n').map((l) => `  ┆   ${l}`).join('\n')}\n`));
  };
}
