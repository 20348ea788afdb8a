import type { Config } from '../config.ts';

/**
 * `npm start`: with no configuration, migrate the embedded PGlite database under
 * ./data, load the default story (STORYTELLER_STORY) and play it in the terminal with
 * the engine in-process. (The gateway adds the web client.)
 */
export async function startEngineProcess(config: Config): Promise<void> {
  const { playInTerminal } = await import('./play.ts');
  await playInTerminal(config);
}
