import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { createEmptyPgDatabase } from '../../support/test-database.ts';
import { startLoopbackAnthropic } from '../../support/loopback-anthropic.ts';
import { SAMPLE_STORY_PATH, WALKTHROUGH } from '../../support/story.ts';

const tmp = mkdtempSync(join(tmpdir(), 'storyteller-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = runCli;

describe('CLI: storyteller story load / check / play', () => {
  it('an invalid story file exits 1 and names the paths', async () => {
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, readFileSync(SAMPLE_STORY_PATH, 'utf8').replace('    setting: harbour\n', '    setting: nowhere\n'));
    const r = await cli(['story', 'load', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/STORY_INVALID/);
    expect(r.stderr).toMatch(/bad\.yaml:\d+: scenes\[0\]\.setting: unknown setting "nowhere"/);
  });

  it('loads the sample story into PostgreSQL, and reloading changes nothing', async () => {
    const url = await createEmptyPgDatabase();
    const first = await cli(['story', 'load', SAMPLE_STORY_PATH], { DATABASE_URL: url });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^loaded: the_lighthouse_keeper .* 5 scenes/);
    const again = await cli(['story', 'load', SAMPLE_STORY_PATH], { DATABASE_URL: url });
    expect(again.stdout).toMatch(/^unchanged: the_lighthouse_keeper/);
  }, 120_000);

  it('`play` with piped stdin (no configuration: PGlite under the data dir) plays the story to its end, resuming a quit game', async () => {
    const env = { STORYTELLER_DATA_DIR: join(tmp, 'data'), DATABASE_URL: undefined };
    const first = await cli(['play'], env, `${WALKTHROUGH.slice(0, 4).join('\n')}\n/quit\n`);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('── The Drowned Bell ──');
    expect(first.stdout).toMatch(/\(turn \d+ saved\)/);
    const r = await cli(['play'], env, `${WALKTHROUGH.slice(4).join('\n')}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(Resuming your unfinished game of The Lighthouse Keeper.)');
    expect(r.stdout).toContain('── The Lamp Room ──');
    expect(r.stdout).toContain('★ goal complete: Get the spare key to the lighthouse from Ada.');
    expect(r.stdout).toContain('The light at Gannet Head is burning again.');
    expect(r.stdout).toContain('THE END');
  }, 240_000); // two processes, each creating and migrating a PGlite database: slow on a loaded machine

  it('`start` (what `npm start` runs) takes the play options: --new starts over, --local plays in memory', async () => {
    const env = { STORYTELLER_DATA_DIR: join(tmp, 'data-start'), DATABASE_URL: undefined };
    const first = await cli(['start'], env, `${WALKTHROUGH[0]}\n/quit\n`);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('── The Quay at Skerry End ──');
    const fresh = await cli(['start', '--new'], env, '/quit\n');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).not.toContain('(Resuming your unfinished game');
    const local = await cli(['start', '--local'], { DATABASE_URL: undefined, STORYTELLER_DATA_DIR: join(tmp, 'unused') }, `${WALKTHROUGH[0]}\n`);
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toContain('── The Quay at Skerry End ──');
  }, 240_000);

  it('`npm start` with no story resumes the story played last and says which; turn numbers count the player\'s turns; --local records nothing', async () => {
    const FENCE = 'test/fixtures/the-fence-and-the-flute.yaml';
    const dataDir = join(tmp, 'data-last');
    const env = { STORYTELLER_DATA_DIR: dataDir, DATABASE_URL: undefined, STORYTELLER_STORY: undefined };
    const first = await cli(['play', '--story', FENCE], env, 'look\nplay the flute\n/hint\n/quit\n');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('(turn 1 saved)');
    expect(first.stdout).toContain('(turn 2 saved)');
    expect(first.stdout).not.toContain('(turn 3 saved)');
    // The hint has moved on within the game: the flute was played, the barn is next.
    expect(first.stdout).toContain('Hint: Go to The Barn.');
    expect(JSON.parse(readFileSync(join(dataDir, 'last-played.json'), 'utf8'))).toMatchObject({ storyId: 'the_fence_and_the_flute', title: 'The Fence and the Flute' });

    const again = await cli(['start'], env, 'go to the barn\n/quit\n');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('THE FENCE AND THE FLUTE');
    expect(again.stdout).toContain('the story you played last');
    expect(again.stdout).toContain('(Resuming your unfinished game of The Fence and the Flute.)');
    expect(again.stdout).toContain('(2 turns played so far');
    expect(again.stdout).toContain('(turn 3 saved)');
    expect(again.stdout).toContain('── The Barn ──');

    // --local plays through the same engine on an in-memory database: it keeps nothing, so it is not what `npm start` comes back to.
    const localDir = join(tmp, 'data-local-only');
    const local = await cli(['play', '--local', '--story', FENCE], { ...env, STORYTELLER_DATA_DIR: localDir }, 'look\n/save\n/quit\n');
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toContain('(turn 1)');
    expect(local.stdout).toContain('Saved in memory only (checkpoint');
    expect(local.stdout).toContain('Nothing is kept: --local play lives in memory only.');
    expect(existsSync(join(localDir, 'last-played.json'))).toBe(false);
    expect(existsSync(join(localDir, 'pglite'))).toBe(false);
  }, 300_000);

  // Regression: a refused input (over the 4,000-character limit) used to end the terminal client with a stack trace.
  it('a refused input is reported with its code and play goes on', async () => {
    const env = { STORYTELLER_DATA_DIR: join(tmp, 'data-refused'), DATABASE_URL: undefined };
    const r = await cli(['start', '--new'], env, `${'a'.repeat(5_000)}\n${WALKTHROUGH[1]}\n/quit\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(not accepted — LEDGER_PAYLOAD_INVALID');
    expect(r.stdout).toContain('◆ revealed: why_the_light_is_dark');
    expect(r.stderr).not.toMatch(/Error/);
  }, 240_000);

  it('escape and control sequences a player types are not echoed raw to the terminal; the ledger keeps the text as typed', async () => {
    const dataDir = join(tmp, 'data-escapes');
    const typed = 'say \x1b[2J\x1b]0;pwned\x07hello\x1b[31m there';
    const r = await cli(['start', '--new'], { STORYTELLER_DATA_DIR: dataDir, DATABASE_URL: undefined }, `${typed}\n/quit\n`);
    expect(r.code, r.stderr).toBe(0);
    // Piped output has no styling of its own, so any ESC, BEL or other control would be the player's.
    expect(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.stdout.replace(/\n/g, ''))).toBe(false);
    expect(r.stdout).toContain('> say hello there');
    const { PgliteDatabase } = await import('../../../src/persistence/pglite-database.ts');
    const db = await PgliteDatabase.open(join(dataDir, 'pglite'));
    try {
      const { rows } = await db.query<{ text: string }>(`SELECT event_data->>'text' AS text FROM event_ledger WHERE event_type = 'PlayerInput'`);
      expect(rows.map((x) => x.text)).toEqual([typed]);
    } finally {
      await db.close();
    }
  }, 240_000);

  it('SIGTERM mid-turn shuts the engine down gracefully: the turn finishes, the session is suspended with a checkpoint', async () => {
    const url = await createEmptyPgDatabase();
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], { env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: url } });
    let stdout = '';
    const acked = new Promise<void>((resolve) => {
      child.stdout?.on('data', (d) => {
        stdout += d;
        if (/\(turn \d+ saved\)/.test(stdout)) resolve(); // acked: the turn may still be running
      });
    });
    child.stdin?.write(`${WALKTHROUGH[0]}\n`); // stdin stays open: the game waits for more
    await acked;
    const closed = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    child.kill('SIGTERM');
    expect(await closed).toBe(0);
    expect(stdout).toContain('Stopping: saving your place');
    expect(stdout).toContain('Ewan looks up from the rope'); // the turn in flight was answered before the engine stopped
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const { rows } = await db.query<{ status: string; types: string[] }>(
        `SELECT s.status, array_agg(c.checkpoint_type) AS types FROM sessions s JOIN checkpoints c ON c.session_id = s.id GROUP BY s.status`,
      );
      expect(rows).toEqual([{ status: 'suspended', types: ['suspend'] }]);
    } finally {
      await db.end();
    }
  }, 240_000);

  it('`start` with the narrator on Anthropic (real SDK, loopback Messages API) narrates from the provider, other roles scripted', async () => {
    const server = await startLoopbackAnthropic('The wind drops for a moment, and the whole harbour seems to listen.');
    try {
      const env = {
        STORYTELLER_DATA_DIR: join(tmp, 'data-anthropic'),
        DATABASE_URL: undefined,
        STORYTELLER_LLM_ROLES: 'narrator=anthropic>scripted,*=scripted',
        ANTHROPIC_API_KEY: 'sk-test',
        ANTHROPIC_BASE_URL: server.url,
      };
      const r = await cli(['start', '--new'], env, `${WALKTHROUGH[0]}\n`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('The wind drops for a moment, and the whole harbour seems to listen.');
      expect(server.requests.map((q) => q.path)).toEqual(['/v1/messages']);
      expect(r.stderr).not.toMatch(/deprecated/);
    } finally {
      await server.close();
    }
  }, 240_000);
});
