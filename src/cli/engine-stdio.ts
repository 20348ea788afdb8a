import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { isStorytellerError } from '../errors.ts';
import { FAULT_POINTS, FaultPoints } from '../engine/fault-points.ts';
import type { SessionHandle } from '../engine/engine.ts';
import { openEngine } from '../engine/open-engine.ts';
import { createLogger } from '../logger.ts';
import { auditLedger } from '../testing/ledger-audit.ts';

/**
 * `storyteller engine-stdio`: the engine as a child process driven over JSON lines — one
 * command per stdin line, one event per stdout line. It is how a supervisor (the crash
 * harness, `npm run test:crash`) drives the real engine the way concurrent clients would:
 * many sessions, bursts of inputs, without the terminal client's one-at-a-time loop.
 * Every stdout line is written synchronously, so what the parent read is what the child
 * had done when it was killed. docs/sessions.md describes the protocol.
 *
 *   in:  {"op":"create"} | {"op":"input","sessionId","clientInputId","text"} | {"op":"arm","point"}
 *        {"op":"recover"} | {"op":"audit","acked","inputIds"} | {"op":"shutdown"}
 *   out: {"type":"ready"} {"type":"created","sessionId"} {"type":"ack",…} {"type":"answer",…}
 *        {"type":"rejected",…} {"type":"ended","sessionId"} {"type":"recovered","sessions"}
 *        {"type":"audit","audit","missingInputIds"} {"type":"fault","point"} {"type":"error","code","message"}
 */
const command = z.discriminatedUnion('op', [
  z.object({ op: z.literal('create') }),
  z.object({ op: z.literal('input'), sessionId: z.guid(), clientInputId: z.string().min(1).max(128), text: z.string() }),
  z.object({ op: z.literal('arm'), point: z.enum(FAULT_POINTS) }),
  z.object({ op: z.literal('recover') }),
  // The ledger audit (src/testing/ledger-audit.ts) on this process's database handle: for the
  // embedded PGlite, whose data directory only one process can open at a time.
  z.object({
    op: z.literal('audit'),
    acked: z.array(z.object({ sessionId: z.guid(), clientInputId: z.string(), inputId: z.number().int() })).default([]),
    inputIds: z.array(z.number().int()).default([]),
  }),
  z.object({ op: z.literal('shutdown') }),
]);

function emit(line: Record<string, unknown>): void {
  writeSync(1, `${JSON.stringify(line)}\n`);
}

/** Resolves once the session has nothing queued or running (or has stopped). */
function whenSettled(h: SessionHandle): Promise<void> {
  const settled = () => {
    const s = h.actor.getSnapshot();
    if (s.status !== 'active') return true;
    if (['ended', 'suspended', 'failed'].includes(h.lifecycle)) return true;
    return s.matches({ lifecycle: { playing: 'idle' } }) && s.context.queue.length === 0 && s.context.pendingWrites === 0 && s.context.exitRequest === null;
  };
  return new Promise((resolve) => {
    if (settled()) return resolve();
    const sub = h.actor.subscribe({
      next: () => {
        if (!settled()) return;
        sub.unsubscribe();
        resolve();
      },
      error: () => resolve(),
      complete: () => resolve(),
    });
  });
}

export async function runEngineStdio(config: Config): Promise<void> {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'silent');
  const faults = new FaultPoints();
  const opened = await openEngine(config, logger, { faults });
  const { engine } = opened;

  const attach = (h: SessionHandle): SessionHandle => {
    h.on('ack', (a) => emit({ type: 'ack', sessionId: h.id, clientInputId: a.clientInputId, inputId: a.inputId, duplicate: a.duplicate }));
    h.on('answer', (a) => emit({ type: 'answer', sessionId: h.id, clientInputId: a.clientInputId, inputId: a.inputId, turn: a.turn }));
    h.on('inputRejected', (r) => emit({ type: 'rejected', sessionId: h.id, clientInputId: r.clientInputId, code: r.error.code }));
    h.on('ended', () => emit({ type: 'ended', sessionId: h.id }));
    h.on('failed', (f) => emit({ type: 'failed', sessionId: h.id, code: f.error.code, message: f.error.message }));
    return h;
  };
  const handles = new Map<string, SessionHandle>();
  const handle = async (sessionId: string): Promise<SessionHandle> => {
    const known = handles.get(sessionId);
    if (known && engine.get(sessionId) === known) return known;
    const h = attach(await engine.open(sessionId));
    handles.set(sessionId, h);
    return h;
  };

  emit({ type: 'ready', driver: opened.db.driver, storyId: opened.storyId });
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const raw of rl) {
    let parsed: z.infer<typeof command>;
    try {
      parsed = command.parse(JSON.parse(raw));
    } catch (error) {
      emit({ type: 'error', code: 'COMMAND_INVALID', message: (error as Error).message.slice(0, 500) });
      continue;
    }
    try {
      switch (parsed.op) {
        case 'create': {
          const h = attach(await engine.createSession({ storyId: opened.storyId }));
          handles.set(h.id, h);
          emit({ type: 'created', sessionId: h.id });
          break;
        }
        case 'input':
          (await handle(parsed.sessionId)).input(parsed.clientInputId, parsed.text);
          break;
        case 'arm':
          FaultPoints.freezeAt(parsed.point, (point, sessionId) => emit({ type: 'fault', point, sessionId }), undefined, faults);
          break;
        case 'recover': {
          // Every session this database left active (a crash's survivors): reopen, re-run what is unanswered, settle.
          const resumed = await engine.resumeInterrupted({ ownedBy: null });
          for (const h of resumed) handles.set(h.id, attach(h));
          await Promise.all(resumed.map(whenSettled));
          emit({ type: 'recovered', sessions: resumed.length });
          break;
        }
        case 'audit': {
          const audit = await auditLedger(opened.db, { acked: parsed.acked });
          const { rows } = await opened.db.query<{ id: string }>(`SELECT id FROM event_ledger WHERE event_type = 'PlayerInput' AND id = ANY($1::bigint[])`, [parsed.inputIds]);
          const found = new Set(rows.map((r) => Number(r.id)));
          emit({ type: 'audit', audit, missingInputIds: parsed.inputIds.filter((id) => !found.has(id)) });
          break;
        }
        case 'shutdown':
          rl.close();
          break;
      }
    } catch (error) {
      emit({ type: 'error', code: isStorytellerError(error) ? error.code : 'INTERNAL', message: (error as Error).message.slice(0, 500), op: parsed.op });
    }
  }
  await opened.close();
}
