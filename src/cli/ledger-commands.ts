import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { archiveLedger, parseArchiveDate, type ArchiveReport } from '../persistence/ledger-archive.ts';
import { ensureLedgerPartitions, listLedgerPartitions } from '../persistence/ledger-partitions.ts';
import { migrate } from '../persistence/migrations.ts';
import { openDatabase } from '../persistence/open-database.ts';

/** The report as the operator reads it: one line per session, then the totals. */
export function formatArchiveReport(r: ArchiveReport): string {
  const lines = [`${r.dryRun ? 'would archive' : 'archived'} ledger history before ${r.before.toISOString()}`];
  for (const s of r.sessions) {
    lines.push(
      s.skipped
        ? `  ${s.sessionId} ${s.status.padEnd(9)} skipped (${s.skipped.replace(/_/g, ' ')})`
        : `  ${s.sessionId} ${s.status.padEnd(9)} rows ≤ ts ${s.horizonTs}: ${s.rowsToMove} ${r.dryRun ? 'to move' : 'moved'}, ${s.rowsKept} kept live (checkpoint ${s.checkpointId})`,
    );
  }
  for (const p of r.partitionsMoved) lines.push(`  partition ${p}: ${r.dryRun ? 'would be detached' : 'detached'} whole and attached to event_ledger_archive`);
  lines.push(`${r.rowsMoved} rows ${r.dryRun ? 'would move' : 'moved'}; ${r.sessions.filter((s) => !s.skipped).length} of ${r.sessions.length} candidate sessions`);
  return `${lines.join('\n')}\n`;
}

/** `storyteller ledger …`: retention of the event ledger (docs/ledger-retention.md). */
export function registerLedgerCommands(program: Command): void {
  const ledger = program.command('ledger').description('event ledger retention: partitions and archive (docs/ledger-retention.md)');

  ledger
    .command('archive')
    .description('move the history of ended and long-suspended sessions older than the date into event_ledger_archive, leaving a summary checkpoint')
    .requiredOption('--before <date>', 'archive history written before this date (YYYY-MM-DD or ISO date-time, UTC)')
    .option('--dry-run', 'print what would move and change nothing')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { before: string; dryRun?: boolean; json?: boolean }) => {
      const before = parseArchiveDate(opts.before);
      const db = await openDatabase(loadConfig());
      try {
        await migrate(db);
        const report = await archiveLedger(db, { before, dryRun: opts.dryRun === true });
        process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatArchiveReport(report));
      } finally {
        await db.close();
      }
    });

  ledger
    .command('partitions')
    .description('create the month partitions due now and list the live and archived partitions with row counts')
    .action(async () => {
      const db = await openDatabase(loadConfig());
      try {
        await migrate(db);
        const created = await ensureLedgerPartitions(db);
        for (const parent of ['event_ledger', 'event_ledger_archive'] as const) {
          for (const p of await listLedgerPartitions(db, parent)) {
            const range = p.from && p.to ? `${p.from.toISOString().slice(0, 10)} .. ${p.to.toISOString().slice(0, 10)}` : 'DEFAULT';
            process.stdout.write(`${parent.padEnd(20)} ${p.name.padEnd(36)} ${range.padEnd(24)} ${p.rows} rows\n`);
          }
        }
        if (created > 0) process.stdout.write(`${created} partition(s) created\n`);
      } finally {
        await db.close();
      }
    });
}
