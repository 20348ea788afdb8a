import { describe, expect, it } from 'vitest';
import { domainEventSchema, namespaceName, taskRequestMessageSchema, taskRequestSchema, taskTemplateSchema } from '../../../src/workflows/contract.ts';
import { buildDomainEvent, firingEvents } from '../../../src/workflows/domain-event.ts';
import { backoffMs, identityHash, TASKER_BACKOFF } from '../../../src/workflows/local-runner.ts';
import { rippleUpdates } from '../../../src/workflows/steps/social-graph-ripple.ts';
import { sceneExitTaskRequest, taskRequestMessage } from '../../../src/workflows/task-request.ts';
import { loadTemplate, parseTemplate } from '../../../src/workflows/template.ts';

const SESSION = '0195b6a2-6f0e-7c1a-9d3e-3f1b2c4d5e6f';
const row = {
  idempotencyKey: `session:${SESSION}:scene-exit:0`,
  payload: { sessionId: SESSION, sceneId: '0195b6a2-6f0e-7c1a-9d3e-000000000001', sceneKey: 'harbour', nextSceneKey: 'lighthouse', checkpointId: '0195b6a2-6f0e-7c1a-9d3e-000000000002', reason: 'goal_completed', turn: 3, deferred: null },
};

describe('the shipped template against Tasker\'s task-template rules (contract §4)', () => {
  const { template, order } = loadTemplate();
  it('namespace storyteller, the DAG the issue lists, every event declared with description and schema', () => {
    expect(template.namespace_name).toBe('storyteller');
    const deps = Object.fromEntries(template.steps.map((s) => [s.name, [...s.dependencies].sort()]));
    expect(deps).toEqual({
      deferred_event_resolution: [],
      offscreen_propagation: ['deferred_event_resolution'],
      social_graph_ripple: ['deferred_event_resolution'],
      world_state_update: ['deferred_event_resolution'],
      narrative_graph_update: ['offscreen_propagation', 'social_graph_ripple'],
      checkpoint: ['narrative_graph_update', 'world_state_update'],
    });
    expect(order.at(-1)?.name).toBe('checkpoint');
    const last = template.steps.find((s) => s.name === 'checkpoint')!;
    expect(last.publishes_events.find((e) => e.name === 'scene_boundary.completed')).toMatchObject({ condition: 'success', delivery_mode: 'durable' });
    for (const s of template.steps) expect(s.publishes_events.some((e) => e.condition === 'failure')).toBe(true);
  });
  it('rejects what Tasker rejects: hyphenated or long namespaces, events without a dot or schema, unknown dependencies, cycles, retry.limit', () => {
    expect(namespaceName.safeParse('story-teller').success).toBe(false);
    expect(namespaceName.safeParse('a'.repeat(30)).success).toBe(false);
    expect(namespaceName.safeParse('a'.repeat(29)).success).toBe(true);
    const base = { name: 't', namespace_name: 'ns', version: '1.0.0', steps: [{ name: 'a', handler: { callable: 'x.A' } }] };
    expect(taskTemplateSchema.safeParse(base).success).toBe(true);
    const withEvent = (e: object) => ({ ...base, steps: [{ ...base.steps[0], publishes_events: [e] }] });
    expect(taskTemplateSchema.safeParse(withEvent({ name: 'nodot', description: 'd', schema: {} })).success).toBe(false);
    expect(taskTemplateSchema.safeParse(withEvent({ name: 'a.b', description: 'd' })).success).toBe(false);
    expect(taskTemplateSchema.safeParse(withEvent({ name: 'a.b', schema: {} })).success).toBe(false);
    expect(taskTemplateSchema.safeParse({ ...base, steps: [{ ...base.steps[0], retry: { limit: 3 } }] }).success).toBe(false);
    expect(() => parseTemplate('name: t\nnamespace_name: ns\nversion: "1"\nsteps:\n  - { name: a, handler: { callable: x }, dependencies: [b] }\n')).toThrow(/unknown step b/);
    expect(() => parseTemplate('name: t\nnamespace_name: ns\nversion: "1"\nsteps:\n  - { name: a, handler: { callable: x }, dependencies: [b] }\n  - { name: b, handler: { callable: y }, dependencies: [a] }\n')).toThrow(/cycle/);
  });
});

describe('every message the bridge sends (contract §1.5)', () => {
  const { template } = loadTemplate();
  const req = sceneExitTaskRequest(template, row, '0195b6a2-6f0e-7c1a-9d3e-000000000042');
  it('the TaskRequest: namespace, exact version, idempotency key, correlation id, no requested_at', () => {
    expect(taskRequestSchema.parse(req)).toEqual(req);
    expect(req).toMatchObject({ namespace: 'storyteller', name: 'scene_boundary_processing', version: '1.0.0', idempotency_key: row.idempotencyKey, correlation_id: '0195b6a2-6f0e-7c1a-9d3e-000000000042' });
    expect('requested_at' in req).toBe(false);
    expect(req.context).toMatchObject({ session_id: SESSION, checkpoint_id: row.payload.checkpointId, workflow_key: row.idempotencyKey });
  });
  it('the TaskRequestMessage: PascalCase priority, requested_at with an offset, custom {}', () => {
    const m = taskRequestMessage(req, new Date('2026-03-21T19:04:11.512Z'));
    expect(m.metadata).toEqual({ requested_at: '2026-03-21T19:04:11.512Z', requester: 'storyteller-runtime', priority: 'Normal', custom: {} });
    expect(taskRequestMessageSchema.safeParse({ ...m, metadata: { ...m.metadata, priority: 'normal' } }).success).toBe(false);
    expect(taskRequestMessageSchema.safeParse({ ...m, metadata: { ...m.metadata, requested_at: '2026-03-21T19:04:11' } }).success).toBe(false);
    expect(taskRequestSchema.safeParse({ ...req, requested_at: '2026-03-21T19:04:11.512Z' }).success).toBe(false);
    expect(taskRequestSchema.safeParse({ ...req, requested_at: '2026-03-21T19:04:11.512' }).success).toBe(true);
    expect(taskRequestSchema.safeParse({ ...req, tags: null }).success).toBe(false);
  });
  it('the domain events the local runner publishes parse as Tasker DomainEvents with naive task timestamps', () => {
    const def = template.steps.find((s) => s.name === 'checkpoint')!;
    expect(firingEvents(def, true).map((e) => e.name)).toEqual(['scene_boundary.completed']);
    expect(firingEvents(def, false).map((e) => e.name)).toEqual(['scene_boundary.step_failed']);
    const now = new Date('2026-03-21T19:04:19.230Z');
    const e = buildDomainEvent(firingEvents(def, true)[0]!, {
      task: { task_uuid: '0195b6a2-7777-7000-8000-000000000001', name: template.name, namespace: 'storyteller', version: '1.0.0', context: req.context, correlation_id: req.correlation_id!, created_at: now, updated_at: now, initiator: 'i', source_system: 's', reason: 'r', priority: 0 },
      step: { step_uuid: '0195b6a2-9999-7000-8000-00000000000d', name: 'checkpoint', attempts: 1, max_attempts: 3, retryable: true },
      definition: def, result: { success: true, result: { ok: 1 }, errorMessage: null, errorType: null, errorCode: null, retryable: true, metadata: {} }, dependencyResults: {}, startedAt: now, completedAt: now, workerId: 'w',
    });
    expect(domainEventSchema.parse(e).payload.task_sequence_step.task.task.created_at).toBe('2026-03-21T19:04:19.230');
    expect(e.metadata.correlation_id).not.toBe(req.correlation_id);
    expect(e.event_id[14]).toBe('7');
  });
});

describe('runner rules', () => {
  it("Tasker's backoff: 1 s × 2^attempts, capped, ±15 % jitter; Retry-After wins", () => {
    expect(backoffMs(TASKER_BACKOFF, 1, () => 0.5)).toBe(2_000);
    expect(backoffMs(TASKER_BACKOFF, 3, () => 0.5)).toBe(8_000);
    expect(backoffMs(TASKER_BACKOFF, 3, () => 1)).toBe(9_200);
    expect(backoffMs(TASKER_BACKOFF, 3, () => 0)).toBe(6_800);
    expect(backoffMs(TASKER_BACKOFF, 30, () => 0.5)).toBe(3_600_000);
    expect(backoffMs(TASKER_BACKOFF, 3, () => 0.5, 4_000)).toBe(4_000);
  });
  it('identity: the idempotency key decides; without it the normalized context does', () => {
    const r = { name: 'n', namespace: 's', version: '1', context: { b: 1, a: [1, 2] }, initiator: 'i', source_system: 's', reason: 'r' };
    expect(identityHash({ ...r, idempotency_key: 'k' })).toBe(identityHash({ ...r, context: { other: true }, idempotency_key: 'k' }));
    expect(identityHash(r)).toBe(identityHash({ ...r, context: { a: [1, 2], b: 1 } }));
    expect(identityHash(r)).not.toBe(identityHash({ ...r, context: { a: [2, 1], b: 1 } }));
  });
  it('ripple: attenuated per hop through caring edges, off-cast only', () => {
    const z = { trust_reliability: 0, trust_competence: 0, trust_benevolence: 0, debt: 0 };
    const edges = [
      { from: 'tomas', to: 'mara', affection: 0.8, ...z },
      { from: 'ines', to: 'tomas', affection: 0.5, ...z },
      { from: 'olaf', to: 'mara', affection: -0.9, ...z },
    ];
    const updates = rippleUpdates([{ from: 'mara', to: 'player', dimension: 'affection', delta: 0.3 }], edges, new Set(['mara']), 0.5);
    // tomas: 0.3 × 0.5 × 0.8 = 0.12; ines: 0.3 × (0.5 × 0.8) × (0.5 × 0.5) = 0.03; olaf dislikes mara: no ripple.
    expect(updates).toEqual([{ from: 'ines', to: 'player', deltas: { affection: 0.03 } }, { from: 'tomas', to: 'player', deltas: { affection: 0.12 } }]);
  });
});
