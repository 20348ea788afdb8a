import type { Command } from 'commander';
import { loadConfig } from '../config.ts';

/**
 * `storyteller serve` (the gateway and the web client) and `storyteller token` (a signed
 * token, e.g. with the debug scope for an author or developer).
 *
 * @example
 * npm run serve                                   # http://127.0.0.1:8080/ on the embedded database
 * npm run storyteller -- token --session <id> --debug
 */
export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('serve the web client and the player WebSocket gateway (embedded database and sample story by default)')
    .option('-s, --story <file>', 'story file (default: STORYTELLER_STORY)')
    .option('-p, --port <port>', 'port (default: STORYTELLER_PORT, 8080; 0 picks a free one)')
    .option('--host <host>', 'address to listen on (default: STORYTELLER_HOST, 127.0.0.1)')
    .option('--inspect', 'serve the local Stately inspector (as STORYTELLER_INSPECT=1)')
    .action(async (opts: { story?: string; port?: string; host?: string }) => {
      const { serve } = await import('../gateway/serve.ts');
      const config = loadConfig({ ...process.env, ...(opts.port ? { STORYTELLER_PORT: opts.port } : {}), ...(opts.host ? { STORYTELLER_HOST: opts.host } : {}) });
      const server = await serve(config, opts.story ? { storyPath: opts.story } : {});
      process.stdout.write(`storyteller: playing "${server.storyId}" — open ${server.gateway.url}/ (WebSocket ${server.gateway.url.replace('http', 'ws')}/ws)\n`);
      const stop = (signal: NodeJS.Signals) => {
        process.once(signal, () => process.exit(130));
        process.stdout.write('storyteller: stopping (suspending sessions)…\n');
        void server.stop().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('token')
    .description('print a signed gateway token (STORYTELLER_GATEWAY_SECRET or the generated one under the data directory)')
    .option('--session <id>', 'bind it to this session')
    .option('--debug', 'grant the debug scope (the debug subscription)')
    .option('--player <id>', 'player id', 'operator')
    .action(async (opts: { session?: string; debug?: boolean; player: string }) => {
      const { resolveGatewaySecret } = await import('../gateway/secret.ts');
      const { TokenSigner } = await import('../gateway/tokens.ts');
      const config = loadConfig();
      const tokens = new TokenSigner(await resolveGatewaySecret(config.env, config.dataDir));
      process.stdout.write(`${tokens.sign({ sub: opts.player, sid: opts.session ?? null, scope: opts.debug ? ['play', 'debug'] : ['play'] })}\n`);
    });
}
