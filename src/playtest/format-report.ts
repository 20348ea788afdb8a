import type { PlaytestReport } from './playtest.ts';

/** The playtest report as `storyteller playtest` prints it: a summary a person reads, problems first. */
export function formatPlaytestReport(r: PlaytestReport, file: string): string {
  const lines: string[] = [];
  const counts = (o: Record<string, number>) =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const ratio = (c: { reached: string[]; never: string[] }) => `${c.reached.length}/${c.reached.length + c.never.length}`;
  lines.push(`${file}: playtest of "${r.story.title}" — ${r.walks.length} walks, ${r.inputs} inputs (seed ${r.seed})`);
  for (const c of r.crashes) lines.push(`  CRASH walk ${c.walk} turn ${c.turn} (${c.kind}: ${c.detail.split('\n')[0]}) after "${c.input}"`);
  for (const d of r.deadEnds) lines.push(`  DEAD END walk ${d.walk} in scene ${d.scene}: after ${d.path.map((p) => `"${p}"`).join(' → ')} no ending can be reached`);
  lines.push(`  crashes: ${r.crashes.length}; dead ends: ${r.deadEnds.length}${r.undecided > 0 ? `; undecided (search bound hit): ${r.undecided}` : ''}`);
  lines.push(`  endings reached: ${r.coverage.endings}/${r.walks.length} walks`);
  lines.push(`  refused by the runtime, by code: ${counts(r.rejectedByCode)}`);
  lines.push(`  refused by the story (constraints), by action: ${counts(r.storyRefusals)}`);
  lines.push(`  inputs by kind: ${counts(r.inputsByKind as Record<string, number>)}; distinct: ${r.coverage.distinctInputs}`);
  lines.push(`  coverage: scenes ${ratio(r.coverage.scenes)}, gates ${ratio(r.coverage.gates)}, goals ${ratio(r.coverage.goals)}`);
  if (r.coverage.scenes.never.length > 0) lines.push(`  scenes never reached: ${r.coverage.scenes.never.join(', ')}`);
  if (r.coverage.gates.never.length > 0) lines.push(`  gates never reached: ${r.coverage.gates.never.join(', ')}`);
  if (r.coverage.goals.never.length > 0) lines.push(`  goals never reached: ${r.coverage.goals.never.join(', ')}`);
  lines.push(`  ${r.ok ? 'ok' : 'FAILED'}`);
  return `${lines.join('\n')}\n`;
}
