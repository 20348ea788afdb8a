import { assign, fromCallback, fromPromise, setup, type ActorRefFrom } from 'xstate';

/**
 * The bridge's lifecycle as a statechart (design card: "a bridge actor carries RabbitMQ
 * traffic to and from Tasker Core"), visible in the Stately inspector beside the session
 * actors. The I/O lives in three child actors the Bridge provides (src/actors/bridge.ts):
 * `consumer` (callback: the completion-queue consumer), `relay` (promise: one outbox pass),
 * `reconciler` (promise: GET /v1/tasks/{uuid} for silent workflows).
 *
 * ```
 * active (invokes consumer)
 *   connecting ── consumer.ready / consumer.failed ──► resuming (reconcile every pending checkpoint, seed T6)
 *   running (parallel)
 *     relay:     relaying ⇄ idle (poll / WAKE); an unconfirmed pass → backingOff, and after
 *                `degradedAfter` outages in a row → degraded (same backoff, reported once)
 *     reconcile: waiting ─ after reconcileAfterMs ─► reconciling ─► waiting
 * stopped (final; STOP from anywhere in active)
 * ```
 * Every delay runs on the actor's clock (a SimulatedClock in tests).
 */
export interface BridgeMachineInput {
  pollMs: number;
  reconcileAfterMs: number;
  backoff: { baseMs: number; maxMs: number };
  /** A full batch is followed by another pass at once. */
  batchSize: number;
  /** Outages in a row before the relay counts as degraded. */
  degradedAfter: number;
}

/** What one relay pass reports to the machine. */
export interface RelayPass {
  leased: number;
  confirmed: number;
  /** The submission was not confirmed (broker/Tasker away): back off; Retry-After wins. */
  outage: { message: string; retryAfterMs?: number | undefined } | null;
}

export interface BridgeContext extends BridgeMachineInput {
  /** Current backoff (0: no outage). */
  outageMs: number;
  /** Unconfirmed passes in a row. */
  failures: number;
  /** A WAKE arrived during a pass or a backoff: relay again as soon as it ends. */
  again: boolean;
  lastError: string | null;
  consumer: 'starting' | 'consuming' | 'unavailable';
}

export type BridgeMachineEvent =
  | { type: 'WAKE' }
  | { type: 'STOP' }
  | { type: 'consumer.ready' }
  | { type: 'consumer.failed'; message: string };

const failed = (context: BridgeContext, message: string, retryAfterMs?: number) => ({
  failures: context.failures + 1,
  outageMs: retryAfterMs ?? Math.min(context.backoff.maxMs, context.outageMs === 0 ? context.backoff.baseMs : context.outageMs * 2),
  lastError: message,
});

export const bridgeMachine = setup({
  types: {
    context: {} as BridgeContext,
    events: {} as BridgeMachineEvent,
    input: {} as BridgeMachineInput,
  },
  actors: {
    // Placeholders: the Bridge provides the real ones (bridgeMachine.provide).
    consumer: fromCallback<BridgeMachineEvent>(() => () => undefined),
    relay: fromPromise<RelayPass>(async () => ({ leased: 0, confirmed: 0, outage: null })),
    reconciler: fromPromise<number, { olderThanMs: number }>(async () => 0),
  },
  actions: {
    /** Reported by the Bridge (log + metric); placeholders here. */
    reportOutage: () => undefined,
    reportDegraded: () => undefined,
    reportRecovered: () => undefined,
    reportError: (_, _params: { what: string; error: unknown }) => undefined,
  },
  delays: {
    poll: ({ context }) => context.pollMs,
    backoff: ({ context }) => context.outageMs,
    reconcileEvery: ({ context }) => context.reconcileAfterMs,
  },
  guards: {
    outageDegrades: ({ context, event }) => {
      const out = (event as unknown as { output?: RelayPass }).output;
      return (out === undefined || out.outage !== null) && context.failures + 1 >= context.degradedAfter;
    },
    outage: ({ event }) => (event as unknown as { output: RelayPass }).output.outage !== null,
    moreToRelay: ({ context, event }) => context.again || (event as unknown as { output: RelayPass }).output.leased >= context.batchSize,
    consumerSettled: ({ context }) => context.consumer !== 'starting',
  },
}).createMachine({
  id: 'bridge',
  context: ({ input }) => ({ ...input, outageMs: 0, failures: 0, again: false, lastError: null, consumer: 'starting' }),
  initial: 'active',
  states: {
    active: {
      invoke: { id: 'consumer', src: 'consumer' },
      on: {
        STOP: { target: 'stopped' },
        'consumer.ready': { actions: assign({ consumer: 'consuming' }) },
        'consumer.failed': { actions: assign({ consumer: 'unavailable', lastError: ({ event }) => event.message }) },
      },
      initial: 'connecting',
      states: {
        connecting: {
          always: { guard: 'consumerSettled', target: 'resuming' },
        },
        resuming: {
          invoke: {
            src: 'reconciler',
            input: { olderThanMs: 0 },
            onDone: { target: 'running' },
            onError: { target: 'running', actions: { type: 'reportError', params: ({ event }) => ({ what: 'reconciliation on start', error: event.error }) } },
          },
        },
        running: {
          type: 'parallel',
          states: {
            relay: {
              initial: 'relaying',
              states: {
                relaying: {
                  entry: assign({ again: false }),
                  on: { WAKE: { actions: assign({ again: true }) } },
                  invoke: {
                    src: 'relay',
                    onDone: [
                      {
                        guard: 'outageDegrades',
                        target: 'degraded',
                        actions: [assign(({ context, event }) => failed(context, event.output.outage?.message ?? '', event.output.outage?.retryAfterMs)), 'reportOutage'],
                      },
                      {
                        guard: 'outage',
                        target: 'backingOff',
                        actions: [assign(({ context, event }) => failed(context, event.output.outage?.message ?? '', event.output.outage?.retryAfterMs)), 'reportOutage'],
                      },
                      { guard: 'moreToRelay', target: 'relaying', reenter: true, actions: ['reportRecovered', assign({ outageMs: 0, failures: 0, lastError: null })] },
                      { target: 'idle', actions: ['reportRecovered', assign({ outageMs: 0, failures: 0, lastError: null })] },
                    ],
                    // The pass itself failed (the database away): back off the same way.
                    onError: [
                      { guard: 'outageDegrades', target: 'degraded', actions: [assign(({ context, event }) => failed(context, String(event.error))), { type: 'reportError', params: ({ event }) => ({ what: 'outbox relay pass', error: event.error }) }] },
                      { target: 'backingOff', actions: [assign(({ context, event }) => failed(context, String(event.error))), { type: 'reportError', params: ({ event }) => ({ what: 'outbox relay pass', error: event.error }) }] },
                    ],
                  },
                },
                idle: {
                  on: { WAKE: { target: 'relaying' } },
                  after: { poll: { target: 'relaying' } },
                },
                backingOff: {
                  // A scene exit during an outage waits for the backoff to end (no hammering).
                  on: { WAKE: { actions: assign({ again: true }) } },
                  after: { backoff: { target: 'relaying' } },
                },
                degraded: {
                  entry: 'reportDegraded',
                  on: { WAKE: { actions: assign({ again: true }) } },
                  after: { backoff: { target: 'relaying' } },
                },
              },
            },
            reconcile: {
              initial: 'waiting',
              states: {
                waiting: { after: { reconcileEvery: { target: 'reconciling' } } },
                reconciling: {
                  invoke: {
                    src: 'reconciler',
                    input: ({ context }) => ({ olderThanMs: context.reconcileAfterMs }),
                    onDone: { target: 'waiting' },
                    onError: { target: 'waiting', actions: { type: 'reportError', params: ({ event }) => ({ what: 'reconciliation pass', error: event.error }) } },
                  },
                },
              },
            },
          },
        },
      },
    },
    stopped: { type: 'final' },
  },
});

export type BridgeActor = ActorRefFrom<typeof bridgeMachine>;
