/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time by function and by source
 * area (src/<dir>, node_modules/<package>, node internals), as a share of all samples.
 *
 *   tsx bench/gateway/profile-summary.ts <file.cpuprofile> [turns]
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const profileSchema = z.object({
  nodes: z.array(z.object({ id: z.number(), callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }) })),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

const [file, turnsArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [turns]');
const profile = profileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

function area(url: string, fn: string): string {
  if (fn === '(idle)') return '(idle)';
  if (fn === '(garbage collector)') return '(gc)';
  if (fn === '(program)') return '(program)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm:${nm[1]}`;
  const src = /\/(src|bench)\/(.+?)\/[^/]+$/.exec(url) ?? /\/(src|bench)\/([^/]+)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  if (url.startsWith('node:') || url === '') return 'node';
  return url;
}

const fnTotals = new Map<string, number>();
const areaTotals = new Map<string, number>();
let busy = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (!n) continue;
  const { functionName, url, lineNumber } = n.callFrame;
  const a = area(url, functionName);
  areaTotals.set(a, (areaTotals.get(a) ?? 0) + us);
  if (a === '(idle)') continue;
  busy += us;
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(src|node_modules|bench)\//, '$1/')}:${lineNumber + 1}`;
  fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
}
const turns = Number(turnsArg ?? 0);
const fmt = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / busy).toFixed(1).padStart(5)} %${turns > 0 ? `  ${(us / 1000 / turns).toFixed(3)} ms/turn` : ''}`;
console.log(`busy ${(busy / 1000).toFixed(0)} ms${turns > 0 ? ` over ${turns} turns = ${(busy / 1000 / turns).toFixed(3)} ms/turn` : ''}`);
console.log('\nby area (self time):');
for (const [a, us] of [...areaTotals].filter(([a]) => a !== '(idle)').sort((x, y) => y[1] - x[1]).slice(0, 20)) console.log(`${fmt(us)}  ${a}`);
console.log('\ntop functions (self time):');
for (const [k, us] of [...fnTotals].sort((x, y) => y[1] - x[1]).slice(0, 30)) console.log(`${fmt(us)}  ${k}`);
