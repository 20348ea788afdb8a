import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playRemote } from '../../../src/cli/remote-play.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { textSink } from '../../support/text-sink.ts';

/**
 * `storyteller play --url` with piped input that plays the story to its end: the last
 * answer arrives before the story's end does (its scene exit is still being written), so a
 * client leaving at its last answer would miss THE END. `narrative.done.sceneEnds` says an
 * end is coming; the client waits for it. Real engine (the minimal three-scene story, which
 * ends after turn 8) on PostgreSQL, real sockets.
 */
describe('terminal client: piped input to the end of the story (pg)', () => {
  let tdb: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
    dir = await mkdtemp(join(tmpdir(), 'storyteller-ending-'));
  });
  afterAll(async () => {
    await tdb.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows THE END after the last answer, not "your place is kept"', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const gateway = await startGateway({ engine: kit.engine, db: tdb.db, tokens: new TokenSigner('ending-secret-of-at-least-thirty-two-chars!'), defaultStoryId: 'minimal', staticDir: null });
    try {
      const input = new PassThrough();
      const output = textSink();
      const run = playRemote({ url: `ws://127.0.0.1:${gateway.port}/ws`, storePath: join(dir, 'store.json'), input, output: output.stream });
      for (let i = 1; i <= 8; i++) input.write(`look ${i}\n`);
      input.end();
      await run;
      const text = output.text();
      expect(text).toContain('THE END');
      expect(text.indexOf('THE END')).toBeGreaterThan(text.lastIndexOf('look 8'));
      expect(text).not.toContain('Your place is kept');
    } finally {
      await gateway.close();
      await kit.shutdown();
    }
  });
});
