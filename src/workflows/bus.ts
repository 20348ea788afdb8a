import amqp from 'amqplib';
import type { Logger } from '../logger.ts';
import { moduleLogger, silentLogger } from '../logger.ts';

/**
 * The message queue both halves of the workflow pipeline speak (the bridge and the local
 * runner): RabbitMQ with Tasker's topology (contract §1.3), or an in-process stand-in for
 * the embedded default. Bodies are JSON; Tasker reads only the body.
 */
export interface Delivery {
  readonly body: Buffer;
  /** Done with it (after the effect is committed). */
  ack(): void;
  /** Route it to `<q>_dlq` (through `<q>_dlx`). */
  deadLetter(): void;
  /** Give it back for another delivery (a transient failure applying it). */
  requeue(): void;
}

export interface MessageBus {
  readonly kind: 'amqp' | 'in-process';
  /** Declares `q` (and `q_dlx`, `q_dlq`) exactly as Tasker does. */
  ensureQueue(queue: string): Promise<void>;
  /** Persistent publish through the default exchange; resolves once the broker confirmed it. */
  publish(queue: string, body: unknown): Promise<void>;
  /** Manual-ack consumer; survives reconnects. Returns the function that cancels it. */
  consume(queue: string, handler: (delivery: Delivery) => Promise<void>): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- in-process

interface MemoryQueue {
  ready: Buffer[];
  consumers: Array<(d: Delivery) => Promise<void>>;
  next: number;
}

/** Same semantics as the broker (at-least-once, manual ack, DLQ) inside one process. */
export class InProcessBus implements MessageBus {
  readonly kind = 'in-process' as const;
  readonly #queues = new Map<string, MemoryQueue>();
  #closed = false;

  #queue(name: string): MemoryQueue {
    let q = this.#queues.get(name);
    if (!q) {
      q = { ready: [], consumers: [], next: 0 };
      this.#queues.set(name, q);
    }
    return q;
  }

  async ensureQueue(queue: string): Promise<void> {
    this.#queue(queue);
    this.#queue(`${queue}_dlq`);
  }

  async publish(queue: string, body: unknown): Promise<void> {
    if (this.#closed) throw new Error('bus closed');
    this.#queue(queue).ready.push(Buffer.from(JSON.stringify(body)));
    this.#pump(queue);
  }

  /** Messages waiting in a queue (tests, the DLQ). */
  peek(queue: string): Buffer[] {
    return [...this.#queue(queue).ready];
  }

  async consume(queue: string, handler: (d: Delivery) => Promise<void>): Promise<() => Promise<void>> {
    const q = this.#queue(queue);
    q.consumers.push(handler);
    this.#pump(queue);
    return async () => {
      q.consumers = q.consumers.filter((h) => h !== handler);
    };
  }

  #pump(queue: string): void {
    const q = this.#queue(queue);
    setImmediate(() => {
      while (!this.#closed && q.consumers.length > 0 && q.ready.length > 0) {
        const body = q.ready.shift() as Buffer;
        const handler = q.consumers[q.next++ % q.consumers.length] as (d: Delivery) => Promise<void>;
        let settled = false;
        const settle = (fn: () => void) => () => {
          if (settled) return;
          settled = true;
          fn();
        };
        const delivery: Delivery = {
          body,
          ack: settle(() => undefined),
          deadLetter: settle(() => this.#queue(`${queue}_dlq`).ready.push(body)),
          requeue: settle(() => {
            q.ready.push(body);
            this.#pump(queue);
          }),
        };
        void handler(delivery).catch(() => delivery.requeue());
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

// ---------------------------------------------------------------- RabbitMQ

export interface AmqpBusOptions {
  url: string;
  /** Prepended to every queue name (tests run side by side on one broker). Default ''. */
  queuePrefix?: string;
  prefetch?: number;
  logger?: Logger;
  /** First reconnect delay; doubles up to maxReconnectMs. */
  reconnectMs?: number;
  maxReconnectMs?: number;
}

interface Registered {
  queue: string;
  handler: (d: Delivery) => Promise<void>;
  tag: string | null;
  cancelled: boolean;
}

/**
 * RabbitMQ through amqplib: one connection, a confirm channel for publishing and one
 * channel for consumers. A lost connection is re-opened with backoff and every consumer
 * re-subscribed; a publish while it is down throws (the caller — the outbox relay — backs off).
 */
export class AmqpBus implements MessageBus {
  readonly kind = 'amqp' as const;
  readonly #options: AmqpBusOptions;
  readonly #logger: Logger;
  readonly #consumers: Registered[] = [];
  readonly #declared = new Set<string>();
  #model: amqp.ChannelModel | null = null;
  #publisher: amqp.ConfirmChannel | null = null;
  #consumerChannel: amqp.Channel | null = null;
  #connecting: Promise<void> | null = null;
  #closed = false;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #delay: number;

  constructor(options: AmqpBusOptions) {
    this.#options = options;
    this.#logger = moduleLogger(options.logger ?? silentLogger, 'workflows');
    this.#delay = options.reconnectMs ?? 200;
  }

  name(queue: string): string {
    return `${this.#options.queuePrefix ?? ''}${queue}`;
  }

  get connected(): boolean {
    return this.#model !== null;
  }

  async #connect(): Promise<void> {
    if (this.#model) return;
    if (this.#connecting) return this.#connecting;
    this.#connecting = (async () => {
      const model = await amqp.connect(this.#options.url);
      model.on('error', (err: unknown) => this.#logger.warn({ err }, 'amqp connection error'));
      model.on('close', () => this.#lost());
      const publisher = await model.createConfirmChannel();
      const consumer = await model.createChannel();
      publisher.on('error', (err: unknown) => this.#logger.warn({ err }, 'amqp publish channel error'));
      consumer.on('error', (err: unknown) => this.#logger.warn({ err }, 'amqp consume channel error'));
      await consumer.prefetch(this.#options.prefetch ?? 32);
      this.#model = model;
      this.#publisher = publisher;
      this.#consumerChannel = consumer;
      this.#delay = this.#options.reconnectMs ?? 200;
      for (const q of this.#declared) await this.#declare(publisher, q);
      for (const c of this.#consumers) if (!c.cancelled) await this.#subscribe(c);
    })().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  #lost(): void {
    this.#model = null;
    this.#publisher = null;
    this.#consumerChannel = null;
    for (const c of this.#consumers) c.tag = null;
    if (this.#closed) return;
    this.#logger.warn('amqp connection lost; reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer || this.#closed) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, this.#options.maxReconnectMs ?? 5_000);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connect().catch(() => this.#scheduleReconnect());
    }, delay);
    this.#reconnectTimer.unref();
  }

  async #declare(ch: amqp.Channel, logical: string): Promise<void> {
    const q = this.name(logical);
    await ch.assertExchange(`${q}_dlx`, 'direct', { durable: true });
    await ch.assertQueue(`${q}_dlq`, { durable: true });
    await ch.bindQueue(`${q}_dlq`, `${q}_dlx`, q);
    await ch.assertQueue(q, { durable: true, exclusive: false, autoDelete: false, arguments: { 'x-dead-letter-exchange': `${q}_dlx`, 'x-dead-letter-routing-key': q } });
  }

  async ensureQueue(queue: string): Promise<void> {
    this.#declared.add(queue);
    await this.#connect();
    await this.#declare(this.#publisher as amqp.ConfirmChannel, queue);
  }

  async publish(queue: string, body: unknown): Promise<void> {
    if (this.#closed) throw new Error('bus closed');
    await this.#connect();
    const ch = this.#publisher as amqp.ConfirmChannel;
    const content = Buffer.from(JSON.stringify(body));
    await new Promise<void>((resolve, reject) => {
      ch.sendToQueue(this.name(queue), content, { persistent: true, contentType: 'application/json' }, (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
    });
  }

  async consume(queue: string, handler: (d: Delivery) => Promise<void>): Promise<() => Promise<void>> {
    const reg: Registered = { queue, handler, tag: null, cancelled: false };
    this.#consumers.push(reg);
    try {
      await this.#connect();
      if (reg.tag === null) await this.#subscribe(reg);
    } catch (error) {
      this.#logger.warn({ err: error, queue }, 'amqp consumer not yet subscribed; retrying');
      this.#scheduleReconnect();
    }
    return async () => {
      reg.cancelled = true;
      if (reg.tag && this.#consumerChannel) await this.#consumerChannel.cancel(reg.tag).catch(() => undefined);
    };
  }

  async #subscribe(reg: Registered): Promise<void> {
    const ch = this.#consumerChannel as amqp.Channel;
    const { consumerTag } = await ch.consume(
      this.name(reg.queue),
      (msg) => {
        if (!msg) return;
        let settled = false;
        const settle = (fn: () => void) => () => {
          if (settled) return;
          settled = true;
          try {
            fn();
          } catch {
            // The channel closed under us: the broker redelivers the unacked message.
          }
        };
        const delivery: Delivery = {
          body: msg.content,
          ack: settle(() => ch.ack(msg)),
          deadLetter: settle(() => ch.nack(msg, false, false)),
          requeue: settle(() => ch.nack(msg, false, true)),
        };
        void reg.handler(delivery).catch((err: unknown) => {
          this.#logger.warn({ err, queue: reg.queue }, 'consumer failed; requeued');
          delivery.requeue();
        });
      },
      { noAck: false },
    );
    reg.tag = consumerTag;
  }

  /** Drops the connection as a broker outage would (tests); the bus reconnects by itself. */
  async dropConnection(): Promise<void> {
    await this.#model?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    await this.#model?.close().catch(() => undefined);
    this.#model = null;
  }
}
