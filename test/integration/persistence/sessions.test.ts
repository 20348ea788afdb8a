import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../../src/errors.ts';
import { SessionStore } from '../../../src/persistence/sessions.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { caught, newLedger } from './ledger-helpers.ts';

describe.each(DRIVERS)('SessionStore on %s', (driver) => {
  let t: TestDatabase;
  let sessions: SessionStore;
  beforeAll(async () => {
    t = await createTestDatabase(driver);
    await t.db.query(`INSERT INTO stories (id, title, definition, checksum) VALUES ('tale', 'A Tale', '{}'::jsonb, 'x')`);
    sessions = new SessionStore(t.db);
  });
  afterAll(async () => {
    await t.close();
  });

  it('creates, reads back and updates a session', async () => {
    const sceneId = randomUUID();
    const created = await sessions.create({ storyId: 'tale', sceneId });
    expect(created).toMatchObject({ storyId: 'tale', status: 'active', currentSceneId: sceneId, currentTurn: 0, lastNarrativeTs: 0, ownerEpoch: 0, ownerInstance: null });
    expect(await sessions.get(created.id)).toEqual(created);

    const deadline = new Date('2030-01-01T00:05:00Z');
    const updated = await sessions.update(created.id, { status: 'disconnected', currentTurn: 4, disconnectedAt: new Date('2030-01-01T00:00:00Z'), graceDeadline: deadline });
    expect(updated).toMatchObject({ status: 'disconnected', currentTurn: 4, currentSceneId: sceneId, graceDeadline: deadline });
    const cleared = await sessions.update(created.id, { status: 'active', disconnectedAt: null, graceDeadline: null });
    expect(cleared).toMatchObject({ status: 'active', currentTurn: 4, disconnectedAt: null, graceDeadline: null });
    expect((await sessions.listByStatus('active')).map((s) => s.id)).toContain(created.id);
  });

  it('uses a given id and refuses a second session with it', async () => {
    const id = randomUUID();
    expect((await sessions.create({ id, storyId: 'tale' })).id).toBe(id);
    expect(isStorytellerError(await caught(sessions.create({ id, storyId: 'tale' })), 'SESSION_ALREADY_EXISTS')).toBe(true);
  });

  it('reports unknown stories, sessions and invalid patches with typed errors', async () => {
    expect(isStorytellerError(await caught(sessions.create({ storyId: 'no-such-story' })), 'STORY_NOT_FOUND')).toBe(true);
    expect(await sessions.get(randomUUID())).toBeNull();
    expect(await sessions.get('not-a-uuid')).toBeNull();
    expect(isStorytellerError(await caught(sessions.update(randomUUID(), { currentTurn: 1 })), 'SESSION_NOT_FOUND')).toBe(true);
    expect(isStorytellerError(await caught(sessions.acquire(randomUUID(), 'engine-a')), 'SESSION_NOT_FOUND')).toBe(true);
    const s = await sessions.create({ storyId: 'tale' });
    const bad = await caught(sessions.update(s.id, { status: 'paused' as never }));
    expect(isStorytellerError(bad, 'SESSION_RECORD_INVALID')).toBe(true);
    expect(isStorytellerError(await caught(sessions.update(s.id, { currentTurn: -1 })), 'SESSION_RECORD_INVALID')).toBe(true);
  });

  it('acquire bumps the epoch and fences appends carrying an older one', async () => {
    const s = await sessions.create({ storyId: 'tale' });
    const first = await sessions.acquire(s.id, 'engine-a');
    const ledger = newLedger(t.db);
    await ledger.appendInput({ sessionId: s.id, clientInputId: 'a1', text: 'from a', sceneId: null, turn: 0, epoch: first });
    const second = await sessions.acquire(s.id, 'engine-b');
    expect(second).toBe(first + 1);
    expect(await sessions.get(s.id)).toMatchObject({ ownerInstance: 'engine-b', ownerEpoch: second });
    const fenced = await caught(ledger.appendInput({ sessionId: s.id, clientInputId: 'a2', text: 'stale a', sceneId: null, turn: 1, epoch: first }));
    expect(isStorytellerError(fenced, 'LEDGER_FENCED')).toBe(true);
    expect((fenced as { details: Record<string, unknown> }).details).toMatchObject({ epoch: first, ownerEpoch: second });
    await ledger.appendInput({ sessionId: s.id, clientInputId: 'b1', text: 'from b', sceneId: null, turn: 1, epoch: second });
    await ledger.close();
    const inputs = await t.db.query<{ client_input_id: string }>('SELECT client_input_id FROM event_ledger WHERE session_id = $1 ORDER BY narrative_ts', [s.id]);
    expect(inputs.rows.map((r) => r.client_input_id)).toEqual(['a1', 'b1']);
  });

  it('validates rows read back', async () => {
    const s = await sessions.create({ storyId: 'tale' });
    // A value the column allows but the schema does not (a negative turn).
    await t.db.query('UPDATE sessions SET current_turn = -3 WHERE id = $1', [s.id]);
    expect(isStorytellerError(await caught(sessions.get(s.id)), 'STORED_DATA_INVALID')).toBe(true);
  });
});
