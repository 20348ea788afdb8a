import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * The local inspector relay (what `@statelyai/inspect/server` does, which always listens
 * on every interface): an HTTP page embedding the Stately inspector UI plus a WebSocket
 * relay of inspection events, bound to `host` — 127.0.0.1 unless configured otherwise.
 * The events carry player text and session state: exposing the relay beyond loopback
 * (`STORYTELLER_INSPECT_HOST=0.0.0.0`) hands them to anyone who connects.
 */
export function createLocalInspectorServer(options: { host: string; port: number; inspectorUrl?: string }): { stop(): void; ready: Promise<void> } {
  const inspectorUrl = options.inspectorUrl ?? 'https://stately.ai/inspect';
  const wsHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const page = bridgePage(`ws://${wsHost}:${options.port}`, inspectorUrl);
  const httpServer = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(page);
  });
  const wss = new WebSocketServer({ server: httpServer });
  const buffer: string[] = [];
  wss.on('connection', (ws) => {
    for (const msg of buffer) ws.send(msg);
    ws.on('message', (data) => {
      const msg = data.toString();
      buffer.push(msg);
      if (buffer.length > 200) buffer.shift();
      for (const client of wss.clients) if (client !== ws && client.readyState === WebSocket.OPEN) client.send(msg);
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, () => resolve());
  });
  ready.catch(() => undefined);
  return {
    ready,
    stop() {
      wss.close();
      httpServer.close();
    },
  };
}

function bridgePage(wsUrl: string, inspectorUrl: string): string {
  return `<!DOCTYPE html>
<html><head><title>Stately Inspector</title>
<style>* { margin: 0; padding: 0; } html, body { height: 100%; } iframe { width: 100%; height: 100%; border: none; }</style>
</head><body>
<iframe id="inspector" src="${inspectorUrl}"></iframe>
<script>
  const iframe = document.getElementById('inspector');
  const buffer = [];
  let connected = false;
  window.addEventListener('message', (e) => {
    if (e.data && e.data.type === '@statelyai.connected') {
      connected = true;
      buffer.forEach((event) => iframe.contentWindow.postMessage(event, '*'));
      buffer.length = 0;
    }
  });
  const ws = new WebSocket(${JSON.stringify(wsUrl)});
  ws.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (connected) iframe.contentWindow.postMessage(data, '*'); else buffer.push(data);
  };
</script>
</body></html>`;
}
