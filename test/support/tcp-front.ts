import net from 'node:net';

/**
 * A TCP front on a fixed port that forwards to whichever gateway is running (what a
 * load balancer does). Tests stop and start the "server" behind one address with it:
 * the uWebSockets.js build used here binds without SO_REUSEADDR, so a gateway restarted
 * on its own port waits out TIME_WAIT (up to a minute; startGateway retries), while
 * Node's listener rebinds at once.
 */
export class TcpFront {
  #server: net.Server | null = null;
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  /** Starts accepting on `port` (0 the first time: a free one, kept afterwards). */
  async start(target: number): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  /** Stops accepting and drops every connection: the address refuses connections. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
