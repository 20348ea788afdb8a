import { assign, emit, enqueueActions } from 'xstate';
import type { AgentRequestEvent } from '../actors/agent-actor.ts';
import type { NarratorResult, SceneDefinition } from '../actors/behaviour.ts';
import type { PersistenceRequest } from '../actors/persistence.ts';
import type { CurrentTurn, QueuedInput } from './session-types.ts';
import { sessionSetup, askMember, recordReply, midSceneCheckpoint, sceneIdOf, turnRequest, requestId, type AgentDone } from './session-setup.ts';
import { turnEvents } from './turn-events.ts';

/**
 * How many started turns a session remembers for retransmission checks: far more than can be
 * in flight between a turn's start and its TurnCompleted becoming durable.
 */
export const RECENTLY_PLAYED = 32;

/**
 * The turn cycle (seed: "Active Play"): the `playing` state of the session statechart.
 * Every agent and stage is a per-scene child actor; the machine asks it by request id
 * and waits for its `agent.done` (the shell always answers, degraded if need be).
 */
/** The turn cycle: idle ⇄ turn (stage1 → stage2 → stage3 → agents ∥ stage 4 → reconciler → narrator). */
export const playingState = sessionSetup.createStateConfig({
  initial: 'idle',
  states: {
    idle: {
      always: [
        // Targetless: writes the checkpoint, then the other candidates are evaluated again.
        { guard: 'autosaveDue', actions: midSceneCheckpoint('autosave') },
        { guard: 'mustExitScene', target: '#session.lifecycle.exiting' },
        { guard: 'mustSuspendMidScene', target: '#session.lifecycle.suspending' },
        { guard: 'canStartTurn', target: 'turn' },
      ],
    },
    turn: {
      initial: 'stage1',
      entry: [
        assign(({ context }) => {
          const [next, ...rest] = context.queue;
          const input = { ...(next as NonNullable<typeof next>), turn: context.turn + 1 };
          return {
            queue: rest,
            turn: input.turn,
            recentlyPlayed: [...context.recentlyPlayed.slice(1 - RECENTLY_PLAYED), input.inputId],
            current: { input, results: {}, degraded: [], pendingAgents: [], behaviourMs: 0 },
          };
        }),
        emit(({ context }) => ({ type: 'turnStarted', inputId: context.current?.input.inputId ?? 0, clientInputId: context.current?.input.clientInputId ?? '', turn: context.turn })),
      ],
      states: {
        stage1: {
          entry: askMember('stage1'),
          on: { 'agent.done': { guard: { type: 'isReplyFrom', params: { member: 'stage1' } }, target: 'stage2', actions: [recordReply, { type: 'fault', params: { point: 'turn.afterStage1' } }] } },
        },
        stage2: {
          entry: askMember('stage2'),
          on: { 'agent.done': { guard: { type: 'isReplyFrom', params: { member: 'stage2' } }, target: 'stage3', actions: [recordReply, { type: 'fault', params: { point: 'turn.afterStage2' } }] } },
        },
        stage3: {
          entry: askMember('stage3'),
          on: { 'agent.done': { guard: { type: 'isReplyFrom', params: { member: 'stage3' } }, target: 'agents', actions: [recordReply, { type: 'fault', params: { point: 'turn.afterStage3' } }] } },
        },
        // Characters in parallel with storykeeper and world; stage 4 starts beside them and is not awaited.
        agents: {
          entry: [
            enqueueActions(({ context, enqueue }) => {
              const request = turnRequest(context);
              const cast = (context.warm.definition as SceneDefinition).cast;
              const pending: string[] = [];
              for (const id of cast) {
                const rid = requestId(context, `character:${id}`);
                pending.push(rid);
                enqueue.sendTo(`character:${id}`, { type: 'agent.run', requestId: rid, request } satisfies AgentRequestEvent);
              }
              for (const member of ['storykeeper', 'world'] as const) {
                const rid = requestId(context, member);
                pending.push(rid);
                enqueue.sendTo(member, { type: 'agent.run', requestId: rid, request } satisfies AgentRequestEvent);
              }
              const replay = (context.current?.input as QueuedInput | undefined)?.replay ? ':replay' : '';
              enqueue.sendTo('stage4', { type: 'agent.run', requestId: `${requestId(context, 'stage4')}:${context.turn}${replay}`, request } satisfies AgentRequestEvent);
              enqueue.assign({ current: { ...(context.current as CurrentTurn), pendingAgents: pending } });
            }),
            { type: 'fault', params: { point: 'turn.duringAgents' } },
          ],
          on: { 'agent.done': { guard: 'isPendingAgentReply', actions: recordReply } },
          always: { guard: 'allAgentsAnswered', target: 'reconciler' },
        },
        reconciler: {
          entry: askMember('reconciler'),
          on: { 'agent.done': { guard: { type: 'isReplyFrom', params: { member: 'reconciler' } }, target: 'narrator', actions: recordReply } },
        },
        narrator: {
          entry: askMember('narrator'),
          // The stream itself goes from the narrator's shell to the session's listeners
          // (AgentDeps.onChunk), not through this machine; its reply says how much it streamed.
          on: {
            'agent.done': {
              guard: { type: 'isReplyFrom', params: { member: 'narrator' } },
              target: '#session.lifecycle.playing.idle',
              actions: [
                recordReply,
                enqueueActions(({ context, event, enqueue }) => {
                  const current = context.current as CurrentTurn;
                  const done = event as AgentDone;
                  const narration = done.result as NarratorResult;
                  // A narrator that failed before streaming anything: its fallback prose still reaches
                  // clients that show the chunks (the terminal), not only the answer.
                  if (done.streamed === 0 && narration.text.length > 0) enqueue.emit({ type: 'chunk', inputId: current.input.inputId, text: narration.text });
                  enqueue.emit({
                    type: 'answer',
                    inputId: current.input.inputId,
                    clientInputId: current.input.clientInputId,
                    turn: current.input.turn,
                    text: narration.text,
                    degraded: current.degraded.map((d) => d.member),
                    behaviourMs: current.behaviourMs,
                    endsScene: context.exitRequest !== null,
                  });
                  // One batch, one statement: the turn's effects and its TurnCompleted become durable
                  // together (a re-run after a crash finds all of the first run or none of it). The
                  // turn that ends the scene says so in its TurnCompleted, so a crash before the
                  // scene-exit transaction resumes straight into that exit.
                  const events = turnEvents(current, sceneIdOf(context), narration.events, context.exitRequest);
                  enqueue.sendTo('persistence', { type: 'persist.events', batchId: `turn:${current.input.inputId}:${context.batchSeq}`, events, epoch: context.epoch } satisfies PersistenceRequest);
                  enqueue.assign({
                    pendingWrites: context.pendingWrites + 1,
                    batchSeq: context.batchSeq + 1,
                    current: null,
                  });
                }),
                { type: 'fault', params: { point: 'turn.afterAnswer' } },
              ],
            },
          },
        },
      },
    },
  },
});
