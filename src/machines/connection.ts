import { assign, raise, sendTo } from 'xstate';
import type { PersistenceRequest } from '../actors/persistence.ts';
import { sessionSetup } from './session-setup.ts';

/**
 * The connection region (seed: "Player Disconnects Mid-Session"): the grace deadline
 * lives in context because xstate does not persist `after` timers; `connection.rearm`
 * re-arms it after a restore.
 */
/** The connection region: connected ⇄ disconnected (grace deadline in context) → expired. */
export const connectionRegion = sessionSetup.createStateConfig({
  initial: 'connected',
  states: {
    connected: {
      on: {
        disconnect: {
          target: 'disconnected',
          actions: [
            assign(({ context, event }) => ({ disconnectedAt: event.at, graceDeadline: event.at + context.gracePeriodMs })),
            sendTo('persistence', ({ context }): PersistenceRequest => ({
              type: 'persist.status',
              status: { status: 'disconnected', disconnectedAt: context.disconnectedAt, graceDeadline: context.graceDeadline, epoch: context.epoch },
            })),
          ],
        },
      },
    },
    disconnected: {
      after: { graceRemaining: { target: 'expired' } },
      on: {
        reconnect: {
          target: 'connected',
          actions: [
            assign({ disconnectedAt: null, graceDeadline: null }),
            sendTo('persistence', ({ context }): PersistenceRequest => ({
              type: 'persist.status',
              status: { status: 'active', disconnectedAt: null, graceDeadline: null, epoch: context.epoch },
            })),
          ],
        },
        // After a restore: xstate does not persist `after` timers, so re-enter to arm it from the deadline.
        'connection.rearm': { target: 'disconnected', reenter: true },
      },
    },
    expired: {
      entry: raise({ type: 'grace.expired' }),
      on: { reconnect: { target: 'connected', actions: assign({ disconnectedAt: null, graceDeadline: null }) } },
    },
  },
});
