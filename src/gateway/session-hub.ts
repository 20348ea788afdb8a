import { StorytellerError, isStorytellerError } from '../errors.ts';
import { describeDeferred } from '../workflows/deferred-summary.ts';
import type { SessionEngine, SessionHandle } from '../engine/engine.ts';
import type { Clock } from '../engine/clock.ts';
import { RETRYABLE_INPUT_CODES, type ServerFrame, type ServerFrameOf } from './protocol.ts';

/**
 * One session as the gateway sees it: the connections attached to it, the engine's
 * session handle (re-opened from the checkpoint when the actor was released), and the
 * order of its inputs. Seed: "Player Disconnects Mid-Session" — the last connection
 * going away tells the session actor it disconnected (the grace period starts); a
 * connection coming back within grace reconnects the warm actor; after suspension the
 * next resume or input opens the session again (checkpoint + ledger delta).
 *
 * Inputs are handed to the engine one at a time (the next after the previous one's
 * ack or refusal), so each input's ledger row carries the turn it is played as (the
 * ack's `turn`). A resend of a known `clientInputId` is acked again with the original
 * ids (from the cache here, or from the ledger's idempotent append after a restart) and
 * never played twice.
 */
export interface Subscriber {
  /** `droppable`: the frame may be skipped for a slow reader (narrative.chunk: narrative.done carries the whole text). */
  send(frame: ServerFrame, droppable?: boolean): void;
  /** The session moved to another instance: close (4409) so the client reconnects. */
  moved(): void;
}

export interface SceneInfo {
  name: string;
  description: string;
  hint: string | null;
}

export interface SessionHubOptions {
  engine: SessionEngine;
  describeScene: (sceneKey: string) => SceneInfo | null;
  now: () => number;
  clock: Clock;
  /**
   * An input not acked within this long gets `error STORAGE_UNAVAILABLE` (outcome unknown:
   * the client keeps the line and resends it with the same clientInputId). The input stays
   * on its way: a late ack still arrives.
   */
  ackTimeoutMs: number;
  /** Ack and answer latency from frame receipt (ms). */
  observeAck: (ms: number) => void;
  observeTurn: (ms: number) => void;
  /** Before this instance opens the session for a client: hold its ownership lease (OwnershipLease.claim). */
  claim?: (sessionId: string) => Promise<void>;
  /** The hub has nothing left (no connection, no live actor): the gateway may drop it. */
  onIdle: (hub: SessionHub) => void;
}

interface PendingInput {
  clientInputId: string;
  text: string;
  receivedAt: number;
  /** The connection that sent it (a retryable refusal gates that connection only). */
  from: Subscriber;
}

const TERMINAL = new Set(['suspended', 'ended', 'failed']);
// Older resends are answered by the ledger's idempotent append (one round trip), not from memory.
const ACK_CACHE = 128;
const ANSWER_CACHE = 64;

export class SessionHub {
  readonly id: string;
  readonly subscribers = new Set<Subscriber>();
  readonly #options: SessionHubOptions;
  #handle: SessionHandle | null = null;
  #offs: Array<() => void> = [];
  #opening: Promise<SessionHandle> | null = null;
  readonly #queue: PendingInput[] = [];
  #inFlight: PendingInput | null = null;
  #ackTimer: unknown = null;
  /** Received-at of inputs acked and not yet answered (turn latency). */
  readonly #awaitingAnswer = new Map<string, number>();
  readonly #acked = new Map<string, ServerFrameOf<'ack'>>();
  readonly #answered = new Map<string, ServerFrameOf<'narrative.done'>>();
  #hint: string | null = null;
  #lastState = '';
  #storyId: string | null = null;
  /** Another instance owns the session: this hub writes nothing more for it. */
  #moved = false;
  #releasing: Promise<void> = Promise.resolve();
  /**
   * Per connection, its first input refused with a retryable code (the database was away):
   * the inputs queued after it were refused too, and that connection's new ones are refused
   * until it comes again, so its resend keeps the order it typed. Another device on the
   * session is not held up by it.
   */
  readonly #gates = new Map<Subscriber, { clientInputId: string; code: string }>();

  constructor(id: string, options: SessionHubOptions) {
    this.id = id;
    this.#options = options;
  }

  get handle(): SessionHandle | null {
    return this.#handle;
  }

  /** active | disconnected | suspended (for the sessions gauge). */
  get state(): 'active' | 'disconnected' | 'suspended' {
    const h = this.#live();
    if (!h) return 'suspended';
    return h.connection === 'connected' ? 'active' : 'disconnected';
  }

  get hint(): string | null {
    return this.#hint;
  }

  /** Attaches a connection; reconnects the warm actor or opens the session again. */
  async attach(subscriber: Subscriber): Promise<SessionHandle> {
    // A client asks for it here again: once the stale actor is released, this instance
    // takes the session back (a new epoch).
    if (this.#moved) {
      await this.#releasing;
      this.#moved = false;
    }
    // A new connection resends every unanswered line in order: it starts ungated.
    this.subscribers.add(subscriber);
    try {
      const handle = await this.#ensureHandle();
      if (this.#storyId === null) this.#storyId = (await this.#options.engine.sessions.get(this.id))?.storyId ?? null;
      if (handle.connection !== 'connected') handle.reconnect();
      return handle;
    } catch (error) {
      this.subscribers.delete(subscriber);
      this.#maybeIdle();
      throw error;
    }
  }

  /** The connection went away; the last one tells the session it disconnected. */
  detach(subscriber: Subscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    this.#gates.delete(subscriber);
    if (this.subscribers.size > 0) return;
    const h = this.#live();
    // Not after a move: the stale actor's status write is not fenced, it would mark the new owner's session disconnected.
    if (h && h.connection === 'connected' && !this.#moved) h.disconnect();
    this.#maybeIdle();
  }

  /** A player input from one connection (ack and answer go to every attached connection). */
  input(from: Subscriber, clientInputId: string, text: string): void {
    const known = this.#acked.get(clientInputId);
    if (known) {
      from.send({ ...known, duplicate: true });
      const answer = this.#answered.get(clientInputId);
      if (answer) from.send({ ...answer, replayed: true });
      return;
    }
    // Already on its way to the ledger: its ack will come once.
    if (this.#inFlight?.clientInputId === clientInputId || this.#queue.some((q) => q.clientInputId === clientInputId)) return;
    const gate = this.#gates.get(from);
    if (gate) {
      if (gate.clientInputId !== clientInputId) {
        from.send({ type: 'error', code: gate.code, message: 'an earlier input was not saved: send it again first', clientInputId, ref: 'input' });
        return;
      }
      this.#gates.delete(from);
    }
    this.#queue.push({ clientInputId, text, receivedAt: performance.now(), from });
    this.#pump();
  }

  save(from: Subscriber): void {
    const h = this.#live();
    if (!h) {
      from.send({ type: 'error', code: 'SESSION_NOT_PLAYING', message: 'the session is suspended; send an input or resume it first', ref: 'save' });
      return;
    }
    h.save();
  }

  broadcast(frame: ServerFrame, droppable = false): void {
    for (const s of this.subscribers) s.send(frame, droppable);
  }

  /** The storykeeper's verdict of a turn (from the behaviour's onStorykeeper hook). */
  storykeeper(output: { released: Array<{ gateId: string }>; goalsCompleted: Array<{ goalId: string; description: string; visibility: string }>; hint: string | null }): void {
    for (const r of output.released) this.broadcast({ type: 'gate.fired', gateId: r.gateId });
    // Hidden goals stay hidden (as in the terminal).
    for (const g of output.goalsCompleted) if (g.visibility === 'overt' || g.visibility === 'signaled') this.broadcast({ type: 'goal.fired', goalId: g.goalId, description: g.description });
    if (output.hint) this.#hint = output.hint;
  }

  /** The session frames a newly attached connection needs. */
  readyFrame(token: string, resumed: boolean): ServerFrameOf<'session.ready'> {
    const h = this.#handle;
    const context = h?.actor.getSnapshot().context;
    return {
      type: 'session.ready',
      sessionId: this.id,
      token,
      storyId: context?.storyId ?? this.#storyId,
      resumed,
      lifecycle: h?.lifecycle ?? 'suspended',
      connection: h?.connection ?? 'disconnected',
      scene: context?.sceneKey ?? null,
      turn: context?.turn ?? 0,
    };
  }

  /** The current scene, for a connection that attaches to a warm session (no new scene.entered follows). */
  currentScene(): ServerFrameOf<'scene.entered'> | null {
    const h = this.#live();
    if (!h || h.lifecycle !== 'playing') return null;
    const c = h.actor.getSnapshot().context;
    if (!c.sceneKey) return null;
    const info = this.#options.describeScene(c.sceneKey);
    return { type: 'scene.entered', scene: c.sceneKey, sceneIndex: c.sceneIndex, name: info?.name ?? null, description: info?.description ?? null, timings: c.entryTimings, degraded: c.entryDegraded };
  }

  /** The live handle, or null when the actor was released (suspended, ended, failed). */
  #live(): SessionHandle | null {
    const h = this.#handle;
    if (!h || TERMINAL.has(h.lifecycle) || h.actor.getSnapshot().status !== 'active') return null;
    return h;
  }

  #ensureHandle(): Promise<SessionHandle> {
    const live = this.#live();
    if (live) return Promise.resolve(live);
    if (!this.#opening) {
      const claim = this.#options.claim;
      this.#opening = (claim ? claim(this.id) : Promise.resolve())
        .then(() => this.#options.engine.open(this.id))
        .then((h) => {
          this.#bind(h);
          return h;
        })
        .finally(() => {
          this.#opening = null;
        });
    }
    return this.#opening;
  }

  /** Adopts a handle the gateway created (session.start). */
  adopt(handle: SessionHandle, storyId: string): void {
    this.#storyId = storyId;
    this.#bind(handle);
  }

  #bind(h: SessionHandle): void {
    if (this.#handle === h) return;
    for (const off of this.#offs) off();
    this.#handle = h;
    this.#lastState = '';
    const offs: Array<() => void> = [];
    offs.push(
      h.on('ack', (a) => {
        const frame: ServerFrameOf<'ack'> = { type: 'ack', clientInputId: a.clientInputId, inputId: a.inputId, turn: a.turn, duplicate: a.duplicate };
        this.#remember(this.#acked, a.clientInputId, { ...frame, duplicate: false }, ACK_CACHE);
        const pending = this.#inFlight?.clientInputId === a.clientInputId ? this.#inFlight : null;
        if (pending) {
          this.#options.observeAck(performance.now() - pending.receivedAt);
          this.#inFlight = null;
          this.#clearAckTimer();
        }
        this.broadcast(frame);
        const context = h.actor.getSnapshot().context;
        const stillToPlay = context.current?.input.inputId === a.inputId || context.queue.some((q) => q.inputId === a.inputId);
        if (!a.duplicate || stillToPlay) {
          if (pending) this.#awaitingAnswer.set(a.clientInputId, pending.receivedAt);
        } else {
          // Played before this actor (or this gateway) existed: its narration is gone.
          const cached = this.#answered.get(a.clientInputId);
          this.broadcast(cached ? { ...cached, replayed: true } : { type: 'narrative.done', inputId: a.inputId, clientInputId: a.clientInputId, turn: a.turn, text: null, degraded: [], replayed: true });
        }
        this.#pump();
      }),
      h.on('inputRejected', (r) => {
        const refused = this.#inFlight?.clientInputId === r.clientInputId ? this.#inFlight : null;
        if (refused) {
          this.#inFlight = null;
          this.#clearAckTimer();
        }
        this.broadcast({ type: 'error', code: r.error.code, message: r.error.message, clientInputId: r.clientInputId, ref: 'input' });
        if (r.error.code === 'LEDGER_FENCED') return this.#movedAway();
        if (RETRYABLE_INPUT_CODES.has(r.error.code)) {
          const code = r.error.code;
          const gate = (from: Subscriber, clientInputId: string) => {
            if (this.subscribers.has(from) && !this.#gates.has(from)) this.#gates.set(from, { clientInputId, code });
          };
          if (refused) gate(refused.from, refused.clientInputId);
          // Queued lines were not sent to the ledger: refused with it, each connection gated at its first.
          for (const q of this.#queue.splice(0)) {
            gate(q.from, q.clientInputId);
            q.from.send({ type: 'error', code, message: 'an earlier input was not saved: send it again after it', clientInputId: q.clientInputId, ref: 'input' });
          }
        }
        this.#pump();
      }),
      h.on('turnStarted', (e) => this.broadcast({ type: 'turn.started', inputId: e.inputId, turn: e.turn })),
      h.on('chunk', (c) => this.broadcast({ type: 'narrative.chunk', inputId: c.inputId, text: c.text }, true)),
      h.on('answer', (a) => {
        const frame: ServerFrameOf<'narrative.done'> = { type: 'narrative.done', inputId: a.inputId, clientInputId: a.clientInputId, turn: a.turn, text: a.text, degraded: a.degraded, replayed: false, sceneEnds: a.endsScene };
        this.#remember(this.#answered, a.clientInputId, frame, ANSWER_CACHE);
        const receivedAt = this.#awaitingAnswer.get(a.clientInputId);
        if (receivedAt !== undefined) {
          this.#awaitingAnswer.delete(a.clientInputId);
          this.#options.observeTurn(performance.now() - receivedAt);
        }
        this.broadcast(frame);
      }),
      h.on('sceneEntered', (e) => {
        const info = this.#options.describeScene(e.sceneKey);
        this.#hint = info?.hint ?? null;
        this.broadcast({ type: 'scene.entered', scene: e.sceneKey, sceneIndex: e.sceneIndex, name: info?.name ?? null, description: info?.description ?? null, timings: e.timings, degraded: e.degraded });
      }),
      h.on('sceneExited', (e) => this.broadcast({ type: 'scene.exited', scene: e.sceneKey, nextScene: e.nextSceneKey, reason: e.reason })),
      h.on('deferred.applied', (e) => {
        const text = describeDeferred(e.result);
        if (text) this.broadcast({ type: 'deferred.applied', text });
      }),
      h.on('checkpointed', (c) => {
        if (c.checkpointType === 'manual_save') this.broadcast({ type: 'saved', checkpointId: c.checkpointId });
      }),
      h.on('failed', (f) => {
        this.broadcast({ type: 'error', code: f.error.code, message: `the session failed: ${f.error.message}` });
        if (f.error.code === 'LEDGER_FENCED') this.#movedAway();
      }),
    );
    const sub = h.actor.subscribe({
      next: () => this.#stateChanged(h),
      complete: () => this.#stateChanged(h),
      error: () => this.#stateChanged(h),
    });
    offs.push(() => sub.unsubscribe());
    this.#offs = offs;
    this.#stateChanged(h);
  }

  #stateChanged(h: SessionHandle): void {
    if (h !== this.#handle) return;
    const lifecycle = h.lifecycle;
    const connection = h.connection;
    const key = `${lifecycle}/${connection}`;
    if (key === this.#lastState) return;
    this.#lastState = key;
    this.broadcast({ type: 'session.state', sessionId: this.id, lifecycle, connection });
    if (TERMINAL.has(lifecycle)) {
      // Inputs left in flight were durable or not: the next resume resolves them.
      if (this.#inFlight) this.#queue.unshift(this.#inFlight);
      this.#inFlight = null;
      this.#clearAckTimer();
      this.#maybeIdle();
      if (this.#queue.length > 0 && lifecycle === 'suspended' && this.subscribers.size > 0) queueMicrotask(() => this.#pump());
    }
  }

  #pump(): void {
    if (this.#inFlight || this.#queue.length === 0) return;
    const live = this.#live();
    if (!live) {
      if (this.subscribers.size === 0) return;
      this.#ensureHandle().then(
        () => this.#pump(),
        (error: unknown) => this.#refuseQueued(error),
      );
      return;
    }
    const next = this.#queue.shift() as PendingInput;
    this.#inFlight = next;
    try {
      live.input(next.clientInputId, next.text);
      this.#ackTimer = this.#options.clock.setTimeout(() => {
        this.#ackTimer = null;
        if (this.#inFlight !== next) return;
        this.broadcast({
          type: 'error',
          code: 'STORAGE_UNAVAILABLE',
          message: `not saved within ${this.#options.ackTimeoutMs} ms: the outcome is unknown; keep the line and resend it with the same clientInputId`,
          clientInputId: next.clientInputId,
          ref: 'input',
        });
      }, this.#options.ackTimeoutMs);
    } catch (error) {
      this.#inFlight = null;
      if (isStorytellerError(error, 'SESSION_NOT_PLAYING')) {
        this.#queue.unshift(next);
        this.#handle = null;
        queueMicrotask(() => this.#pump());
        return;
      }
      throw error;
    }
  }

  /**
   * Another instance owns the session now (its epoch fenced this one's write). Reopening
   * it here would take it back from under the player's other connection: instead every
   * connection is closed (4409) and reconnects — to whichever instance it is routed to,
   * which then owns the session. Queued inputs were not durable; the clients resend them.
   */
  #movedAway(): void {
    if (this.#moved) return;
    this.#moved = true;
    this.#queue.splice(0);
    this.#inFlight = null;
    this.#clearAckTimer();
    for (const s of [...this.subscribers]) s.moved();
    // Release the stale actor: its suspend checkpoint is fenced, which fails and releases it.
    this.#releasing = this.#options.engine.stop(this.id).catch(() => undefined);
  }

  #clearAckTimer(): void {
    if (this.#ackTimer !== null) this.#options.clock.clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
  }

  #refuseQueued(error: unknown): void {
    const e = isStorytellerError(error) ? error : new StorytellerError('SESSION_NOT_PLAYING', error instanceof Error ? error.message : String(error));
    const queued = this.#queue.splice(0);
    for (const q of queued) this.broadcast({ type: 'error', code: e.code, message: e.message, clientInputId: q.clientInputId, ref: 'input' });
  }

  #maybeIdle(): void {
    if (this.subscribers.size === 0 && !this.#live() && !this.#opening) {
      for (const off of this.#offs) off();
      this.#offs = [];
      this.#options.onIdle(this);
    }
  }

  #remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > max) map.delete(map.keys().next().value as string);
  }
}
