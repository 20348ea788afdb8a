import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { serve, type RunningServer } from '../../../src/gateway/serve.ts';
import { silentLogger } from '../../../src/logger.ts';
import { createEmptyPgDatabase } from '../../support/test-database.ts';
import { TcpFront } from '../../support/tcp-front.ts';

/**
 * Issue 15, the real-browser test: Debian's chromium driven by playwright-core plays the
 * sample story through `serve()` (the gateway, the production story behaviour, a real
 * PostgreSQL database). Two turns; the server stops; two more lines are typed; the
 * page is reloaded (its files come from the service worker's cache); the server
 * starts again behind the same address (a TCP front, see tcp-front.ts, for why): all four inputs are acked and answered exactly once,
 * in order — checked in the page and, independently, in the ledger.
 * `.ci/run` installs chromium when /usr/bin/chromium is missing.
 */
const CHROMIUM = '/usr/bin/chromium';

/** The few page globals these checks read (the project compiles without the DOM library). */
interface BrowserGlobals {
  document: { querySelectorAll(selector: string): { length: number } };
  navigator: { serviceWorker?: { controller: unknown } };
  localStorage: { getItem(key: string): string | null };
}
const TURNS = ['look', 'ask Ewan about the light', 'go to the inn', 'ask Silas about the Curlew'];

describe('web client in a real browser', () => {
  let url: string;
  let dataDir: string;
  let profile: string;
  let context: BrowserContext;
  let server: RunningServer | null = null;
  const front = new TcpFront();

  const env = (port: number) => ({
    ...process.env,
    DATABASE_URL: url,
    STORYTELLER_DATA_DIR: dataDir,
    STORYTELLER_PORT: String(port),
    STORYTELLER_HEARTBEAT_TIMEOUT_MS: '30000',
    STORYTELLER_FRAME_MODEL: 'rules',
    LOG_LEVEL: 'silent',
  });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    url = await createEmptyPgDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'storyteller-browser-'));
    profile = await mkdtemp(join(tmpdir(), 'storyteller-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
      viewport: { width: 900, height: 1000 },
    });
  });
  afterAll(async () => {
    await context?.close();
    await front.stop();
    await server?.stop();
    await rm(profile, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  const lineStates = (page: Page) => page.$$eval('.you', (ps) => ps.map((p) => [p.querySelector('.text')?.textContent ?? '', p.getAttribute('data-state') ?? '']));
  const type = async (page: Page, text: string) => {
    await page.focus('#line');
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
  };
  const answered = (page: Page, n: number) =>
    page.waitForFunction((count) => (globalThis as unknown as BrowserGlobals).document.querySelectorAll('.you[data-state="answered"]').length >= count, n, { timeout: 60_000 });

  it('play two turns; stop the server; type two lines; reload; start the server: four inputs acked and answered once, in order', async () => {
    server = await serve(loadConfig(env(0)), { logger: silentLogger });
    await front.start(server.gateway.port);
    const port = front.port;
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/?backoffMaxMs=400`);
    // The app shell is cached before the server goes away.
    await page.waitForFunction(() => (globalThis as unknown as BrowserGlobals).navigator.serviceWorker?.controller != null, undefined, { timeout: 30_000 });

    // Keyboard only: the focused button starts the game, then the input box has focus.
    await page.waitForSelector('#new-game:focus');
    await page.keyboard.press('Enter');
    await page.waitForSelector('h2.scene');
    await page.waitForSelector('#line:focus');
    await type(page, TURNS[0] as string);
    await answered(page, 1);
    await type(page, TURNS[1] as string);
    await answered(page, 2);

    const sessionId = await page.evaluate(() => (JSON.parse((globalThis as unknown as BrowserGlobals).localStorage.getItem('storyteller:v1') ?? '{}') as { sessionId: string }).sessionId);
    await front.stop();
    await server.stop();
    server = null;
    await page.waitForSelector('#status.offline');
    await type(page, TURNS[2] as string);
    await type(page, TURNS[3] as string);
    expect((await lineStates(page)).map(([, s]) => s)).toEqual(['answered', 'answered', 'pending', 'pending']);

    await page.reload();
    await page.waitForSelector('.you');
    expect(await lineStates(page)).toEqual([
      [`> ${TURNS[0]}`, 'answered'],
      [`> ${TURNS[1]}`, 'answered'],
      [`> ${TURNS[2]}`, 'pending'],
      [`> ${TURNS[3]}`, 'pending'],
    ]);

    server = await serve(loadConfig(env(0)), { logger: silentLogger });
    await front.start(server.gateway.port);
    await answered(page, 4);
    expect((await lineStates(page)).map(([, s]) => s)).toEqual(['answered', 'answered', 'answered', 'answered']);

    // In the page: each line answered by exactly one narration, right under it, in the order
    // typed (also the two lines typed offline and resent together).
    const order = await page.$$eval('#story > .you, #story > .prose', (els) => els.map((e) => `${e.className}:${e.getAttribute('data-client-input-id')}`));
    const ids = (await page.$$eval('.you', (ps) => ps.map((p) => p.getAttribute('data-client-input-id')))) as string[];
    const [a, b, c, d] = ids;
    expect(order).toEqual([`you:${a}`, `prose:${a}`, `you:${b}`, `prose:${b}`, `you:${c}`, `prose:${c}`, `you:${d}`, `prose:${d}`]);
    expect(await page.textContent('#story')).toContain('The Drowned Bell');

    // In the ledger: four PlayerInputs, in order, each with one TurnCompleted.
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const inputs = await db.query<{ id: string; text: string; client_input_id: string }>(
        `SELECT id, event_data->>'text' AS text, client_input_id FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput' ORDER BY narrative_ts`,
        [sessionId],
      );
      expect(inputs.rows.map((r) => r.text)).toEqual(TURNS);
      expect(inputs.rows.map((r) => r.client_input_id)).toEqual(ids);
      // TurnCompleted is written by the batched writer just after the answer: wait for it.
      const completed = async () =>
        (
          await db.query<{ input_id: string }>(
            `SELECT (event_data->>'inputId') AS input_id FROM event_ledger WHERE session_id = $1 AND event_type = 'TurnCompleted' ORDER BY narrative_ts`,
            [sessionId],
          )
        ).rows.map((r) => r.input_id);
      await expect.poll(completed, { timeout: 20_000 }).toEqual(inputs.rows.map((r) => r.id));
    } finally {
      await db.end();
    }
    expect(pageErrors).toEqual([]);
    // After a reload the transcript is drawn from localStorage in the same order.
    await page.reload();
    await page.waitForSelector('#story > .prose');
    expect(await page.$$eval('#story > .you, #story > .prose', (els) => els.map((e) => `${e.className}:${e.getAttribute('data-client-input-id')}`))).toEqual(order);
    await page.screenshot({ path: 'docs/web-client.png', fullPage: false });
  });
});
