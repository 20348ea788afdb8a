/**
 * Named fault points (roadmap: "crash trials"): places in the turn cycle and scene
 * exit where a test — or, later, `STORYTELLER_FAULT=<point>` in a child process — can
 * make the engine die with no flush. A disarmed point costs one Map lookup.
 *
 * @example
 * const faults = new FaultPoints();
 * faults.arm('turn.afterStage2', () => engine.crash());
 * faults.hit('turn.afterStage2', sessionId); // runs the handler once, disarms, throws FaultHalt
 */
export const FAULT_POINTS = [
  /** PlayerInput committed, the ack not yet emitted. */
  'input.afterAppend',
  'turn.afterStage1',
  'turn.afterStage2',
  'turn.afterStage3',
  /** Agents requested, not all answered. */
  'turn.duringAgents',
  /** The narrator streamed its first chunk. */
  'turn.duringNarrator',
  /** The answer was emitted; the turn's events are not yet durable. */
  'turn.afterAnswer',
  /** A scene-entry step finished (the first one). */
  'entry.duringEntry',
  /** Scene exit planned; its transaction not yet begun. */
  'exit.beforeTransaction',
  /** Inside the scene-exit transaction: snapshots, edges and events written, checkpoint and outbox row not yet (rolls back). */
  'exit.duringTransaction',
  /** Scene-exit transaction committed; the session has not moved on. */
  'exit.afterTransaction',
  /** An event batch (a turn's effects and its TurnCompleted) submitted to the ledger, not yet acknowledged. */
  'events.inFlight',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

export function isFaultPoint(value: string): value is FaultPoint {
  return (FAULT_POINTS as readonly string[]).includes(value);
}

/**
 * Thrown by `FaultPoints.hit` after an armed handler ran (the testing kit's crash): it
 * unwinds whatever reached the point — the rest of an XState transition, a persistence
 * step — so that nothing of the crashed engine runs after it.
 */
export class FaultHalt extends Error {
  readonly point: FaultPoint;
  constructor(point: FaultPoint) {
    super(`halted at fault point ${point}`);
    this.name = 'FaultHalt';
    this.point = point;
  }
}

export function isFaultHalt(error: unknown): error is FaultHalt {
  return error instanceof FaultHalt;
}

interface Armed {
  handler: (point: FaultPoint, sessionId: string) => void;
  sessionId: string | undefined;
}

export class FaultPoints {
  readonly #armed = new Map<FaultPoint, Armed>();

  /** Runs `handler` the first time `point` is hit (by `sessionId`, if given). */
  arm(point: FaultPoint, handler: (point: FaultPoint, sessionId: string) => void, sessionId?: string): void {
    this.#armed.set(point, { handler, sessionId });
  }

  disarmAll(): void {
    this.#armed.clear();
  }

  /**
   * Called by the runtime at each named point. When the point is armed its handler runs
   * (a crash) and then `FaultHalt` is thrown, so the caller stops right there.
   */
  hit(point: FaultPoint, sessionId: string): void {
    if (this.#armed.size === 0) return;
    const armed = this.#armed.get(point);
    if (!armed || (armed.sessionId !== undefined && armed.sessionId !== sessionId)) return;
    this.#armed.delete(point);
    armed.handler(point, sessionId);
    throw new FaultHalt(point);
  }

  /**
   * Freezes the whole process at the point, after `announce` ran (the crash harness
   * prints a line, then its parent SIGKILLs the process group): the thread blocks in
   * Atomics.wait, so nothing more of the engine runs — no timer, no I/O completion.
   */
  static freezeAt(point: FaultPoint, announce: (point: FaultPoint, sessionId: string) => void, sessionId?: string, faults: FaultPoints = new FaultPoints()): FaultPoints {
    faults.arm(
      point,
      (p, s) => {
        announce(p, s);
        const cell = new Int32Array(new SharedArrayBuffer(4));
        for (;;) Atomics.wait(cell, 0, 0);
      },
      sessionId,
    );
    return faults;
  }

  /**
   * `STORYTELLER_FAULT=<point>` (for crash trials of a child process): the process exits
   * with code 137 at that point, writing nothing more.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): FaultPoints {
    const faults = new FaultPoints();
    const point = env.STORYTELLER_FAULT;
    if (point && isFaultPoint(point)) faults.arm(point, () => process.exit(137));
    return faults;
  }
}
