import { terminalSafe } from './terminal-text.ts';
import { createInterface } from 'node:readline';
import type { Config } from '../config.ts';
import { LocalSession } from '../actors/local-session.ts';
import { StoryBehaviour, type StorykeeperOutput } from '../actors/story-behaviour.ts';
import { createStoryBehaviour } from '../actors/create-story-behaviour.ts';
import { storyScript } from '../actors/agents/scripted-script.ts';
import { loadLlmConfig } from '../inference/llm/config.ts';
import { LlmRouter } from '../inference/llm/router.ts';
import { playerInputData } from '../domain/events.ts';
import { loadStoryFile } from '../domain/story/loader.ts';
import type { Story } from '../domain/story/schema.ts';
import { SessionEngine, type SessionHandle } from '../engine/engine.ts';
import { createLogger } from '../logger.ts';
import { openGraphStore } from '../persistence/graph/open-graph-store.ts';
import { migrate } from '../persistence/migrations.ts';
import { openDatabase } from '../persistence/open-database.ts';
import { openWorkflows, type OpenedWorkflows } from '../workflows/open-workflows.ts';

/**
 * The terminal client: `storyteller play` / `npm start`. With no configuration it opens
 * the embedded PGlite database under ./data, migrates it, loads the default story,
 * starts the session engine in-process and plays in the terminal: streamed narration,
 * the input acknowledgement, gates and goals as they fire, `/help`, `/hint`, `/save`,
 * `/quit`. Non-TTY stdin works (one input per line), so a game can be scripted:
 *
 *   printf 'look\nask Ewan about the light\n' | npm start
 *
 * `--local` plays the same story fully in memory (no database, no engine).
 */
export interface PlayOptions {
  storyPath?: string;
  /** In-memory play without database and engine. */
  local?: boolean;
  /** Start a new game even if an unfinished one of this story exists (default: resume it). */
  fresh?: boolean;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream & { isTTY?: boolean };
}

interface TurnOutcome {
  ended: boolean;
  /** The input was refused (e.g. LEDGER_PAYLOAD_INVALID for an over-long line): nothing was played. */
  rejected?: string;
}

/** What the terminal talks to: the real engine, or a LocalSession. */
interface Backend {
  /** An unfinished game will be resumed by start(). */
  readonly resumes: boolean;
  start(): Promise<void>;
  send(text: string): Promise<TurnOutcome>;
  save(): Promise<string>;
  close(): Promise<void>;
}

interface Ui {
  scene(key: string): void;
  chunk(text: string): void;
  ack(inputId: number): void;
  verdict(output: StorykeeperOutput): void;
  /** The narration of a turn is complete (before any scene change is shown). */
  answered(): void;
}

export async function playInTerminal(config: Config, options: PlayOptions = {}): Promise<void> {
  const out = options.output ?? process.stdout;
  const tty = out.isTTY === true;
  const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
  const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
  const write = (s: string) => out.write(s);
  const story = await loadStoryFile(options.storyPath ?? config.storyPath);
  let lastHint: string | null = story.scenes.find((s) => s.id === story.start)?.hints[0] ?? null;
  let verdict: StorykeeperOutput | null = null;

  const ui: Ui = {
    scene(key) {
      const scene = story.scenes.find((s) => s.id === key);
      if (!scene) return;
      lastHint = scene.hints[0] ?? null;
      write(`\n${bold(`── ${terminalSafe(scene.name)} ──`)}\n${wrap(terminalSafe(scene.description))}\n`);
    },
    // Narration quotes the player's words: nothing typed or generated reaches the terminal raw.
    chunk: (text) => write(terminalSafe(text)),
    ack: (inputId) => write(dim(`  (input #${inputId} saved)\n`)),
    verdict(output) {
      verdict = output;
    },
    answered() {
      write('\n');
      if (!verdict) return;
      for (const r of verdict.released) write(dim(`  ◆ revealed: ${r.gateId}\n`));
      for (const g of verdict.goalsCompleted) if (g.visibility === 'overt' || g.visibility === 'signaled') write(dim(`  ★ goal complete: ${terminalSafe(g.description)}\n`));
      if (verdict.hint) lastHint = verdict.hint;
      verdict = null;
    },
  };

  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const backend = options.local ? localBackend(config, story, ui, logger) : await engineBackend(config, story, ui, logger, options.fresh === true);

  write(`\n${bold(terminalSafe(story.title.toUpperCase()))}\n`);
  const resumed = backend.resumes;
  const intro = () => write(`\n${wrap(terminalSafe(story.intro))}\n${dim('(Type /help for commands.)')}\n`);
  // The intro comes before the first scene; a resumed game says so instead.
  ui.scene = ((show) => (key: string) => {
    if (!resumed && !introShown) {
      introShown = true;
      intro();
    }
    show(key);
  })(ui.scene);
  let introShown = false;
  if (resumed) write(dim('\n(Resuming your unfinished game.)\n'));
  await backend.start();
  if (resumed) write(dim('(`npm run play -- --new` starts over.)\n'));

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
      const line = raw.trim();
      if (!tty) write(`> ${terminalSafe(line)}\n`);
      if (line.length === 0) {
        prompt();
        continue;
      }
      if (line === '/quit' || line === '/exit') break;
      if (line === '/help') {
        write(HELP);
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
    if (!ended) write(dim('\nYour place is kept. Goodbye.\n'));
    await backend.close();
  }
}

const HELP = `Talk and act in plain words, for example:
  look                      examine the tide table       ask Ewan about the light
  give the letter to Ada    take the key                 go to the inn
  unlock the door           light the lamp               say "who are you?"
Commands: /hint (a nudge), /save (checkpoint), /help, /quit
`;

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

function localBackend(config: Config, story: Story, ui: Ui, logger: ReturnType<typeof createLogger>): Backend {
  // No database, but the configured LLM roles (scripted with the story script by default).
  const llm = LlmRouter.fromConfig(loadLlmConfig(config.env), { logger, script: storyScript });
  const behaviour = new StoryBehaviour({ stories: async () => story, llm, onStorykeeper: (_id, o) => ui.verdict(o) });
  const session = new LocalSession(behaviour, { sessionId: 'local', storyId: story.id });
  return {
    resumes: false,
    async start() {
      await session.start();
      ui.scene(session.sceneKey as string);
    },
    async send(text) {
      // The same input schema the ledger applies in engine mode.
      const valid = playerInputData.shape.text.safeParse(text);
      if (!valid.success) return { ended: false, rejected: `LEDGER_PAYLOAD_INVALID: ${valid.error.issues.map((i) => i.message).join('; ')}` };
      const turn = await session.send(text, ui.chunk);
      ui.answered();
      if (turn.enteredScene) ui.scene(turn.enteredScene);
      return { ended: turn.ended };
    },
    async save() {
      return 'In-memory play (--local) has nothing to save to.';
    },
    async close() {
      await llm.close();
    },
  };
}

async function engineBackend(config: Config, story: Story, ui: Ui, logger: ReturnType<typeof createLogger>, fresh: boolean): Promise<Backend> {
  const db = await openDatabase(config);
  await migrate(db);
  const graph = await openGraphStore(db, config);
  const setup = await createStoryBehaviour({ db, graph, config, logger, story, onStorykeeper: (_id, o) => ui.verdict(o) });
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
    ledgerOptions: { maxPayloadBytes: config.ledger.maxPayloadBytes, maxBatch: config.ledger.maxBatch, flushMs: config.ledger.eventFlushMs, logger },
  });
  workflows = await openWorkflows({ config, db, graph, logger, sessions: { get: (id) => engine.get(id) } });
  const opened = workflows;
  let handle: SessionHandle | null = null;
  let seq = 0;
  let ended = false;
  let pendingAnswer: { resolve: (o: TurnOutcome) => void; reject: (e: Error) => void; clientInputId: string } | null = null;

  // Resume the newest unfinished game of this story (its checkpoint + ledger), unless asked for a new one.
  const { rows } = fresh
    ? { rows: [] }
    : await db.query<{ id: string }>(`SELECT id FROM sessions WHERE story_id = $1 AND status <> 'ended' ORDER BY updated_at DESC LIMIT 1`, [story.id]);
  const resumeId = rows[0]?.id;
  return {
    resumes: resumeId !== undefined,
    async start() {
      handle = resumeId ? await engine.open(resumeId) : await engine.createSession({ storyId: story.id });
      const h = handle;
      let markEntered: () => void = () => {};
      const entered = new Promise<void>((resolve) => {
        markEntered = resolve;
      });
      h.on('sceneEntered', (e) => {
        ui.scene(e.sceneKey);
        markEntered();
      });
      h.on('ack', (a) => {
        if (!a.duplicate) ui.ack(a.inputId);
      });
      h.on('chunk', (c) => ui.chunk(c.text));
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
          resolve(`Saved (checkpoint ${c.checkpointId.slice(0, 8)}).`);
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
