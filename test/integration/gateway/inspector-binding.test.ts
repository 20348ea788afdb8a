import { networkInterfaces } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startInspector, type SessionInspector } from '../../../src/engine/inspector.ts';

/**
 * Issue 15 §3: the local inspector relays player text, so it listens on 127.0.0.1
 * unless told otherwise. Checked by connecting to this machine's own non-loopback
 * address, which must be refused, while loopback is served.
 */
const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

const reach = (url: string) =>
  new Promise<'open' | string>((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.close();
      resolve('open');
    });
    ws.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });

describe('local Stately inspector binding', () => {
  const started: SessionInspector[] = [];
  afterAll(() => {
    for (const i of started) i.stop();
  });

  it.runIf(external !== undefined)('listens on 127.0.0.1 by default: loopback is served, the external address is refused', async () => {
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const inspector = startInspector({ port });
    started.push(inspector);
    expect(inspector.wsUrl).toBe(`ws://127.0.0.1:${port}`);
    expect(await reach(`ws://127.0.0.1:${port}`)).toBe('open');
    expect(await reach(`ws://${external}:${port}`)).toBe('ECONNREFUSED');
  });

  it.runIf(external !== undefined)('an explicit host exposes it', async () => {
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const inspector = startInspector({ port, host: '0.0.0.0' });
    started.push(inspector);
    expect(await reach(`ws://${external}:${port}`)).toBe('open');
  });
});
