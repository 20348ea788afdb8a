import { readFile, writeFile } from 'node:fs/promises';
import { withStoryReference } from '../domain/story/schema-reference.ts';

/** `npm run docs:story-reference`: regenerates the field reference in docs/story-format.md from the zod schema. */
const file = new URL('../../docs/story-format.md', import.meta.url);
const before = await readFile(file, 'utf8');
const after = withStoryReference(before);
if (after !== before) await writeFile(file, after);
process.stdout.write(after === before ? 'docs/story-format.md: reference up to date\n' : 'docs/story-format.md: reference regenerated\n');
