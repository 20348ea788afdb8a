import { Writable } from 'node:stream';

/** A Writable that keeps what is written to it (a terminal client's output, in tests). */
export function textSink(): { stream: Writable; text(): string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}
