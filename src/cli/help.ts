import { sceneTopics } from '../checking/story-explorer.ts';
import type { Story } from '../domain/story/schema.ts';

/** `/help`, from the current scene's own data: its people, things, topics and ways out. */
export function helpFor(story: Story, sceneKey: string): string {
  const scene = story.scenes.find((x) => x.id === sceneKey);
  const setting = story.settings.find((x) => x.id === scene?.setting);
  const cast = [...(scene?.cast.required ?? []), ...(scene?.cast.contingent.map((c) => c.character) ?? [])].map((id) => story.characters.find((c) => c.id === id)).filter((c) => c !== undefined);
  const things = story.entities.filter((e) => e.location === setting?.id || e.heldBy === 'player');
  const short = (name: string, aliases: readonly string[]) => aliases.find((a) => /^[A-Za-z]/.test(a) && !a.includes(' ')) ?? name;
  const topic = scene ? sceneTopics(scene)[0] : undefined;
  const person = cast[0];
  const thing = things.find((e) => e.location === setting?.id) ?? things[0];
  const affordance = things.flatMap((e) => e.affordances.map((a) => `${a.action} ${e.name}`))[0];
  const way = setting?.adjacent.map((a) => story.settings.find((x) => x.id === a.to)?.name).find((n) => n !== undefined);
  const examples = [
    'look',
    thing ? `examine ${thing.name}` : null,
    person ? `ask ${short(person.name, person.aliases)} about ${topic ?? 'the place'}` : null,
    person ? `talk to ${short(person.name, person.aliases)}` : null,
    affordance ?? null,
    things.some((e) => e.heldBy === 'player') && person ? `show ${things.find((e) => e.heldBy === 'player')?.name} to ${short(person.name, person.aliases)}` : null,
    way ? `go to ${way}` : null,
    'I slowly … (say what you do, as you would in a story)',
  ].filter((x): x is string => x !== null);
  return `Talk and act in plain words. Here, for example:\n${examples.map((e) => `  ${e}`).join('\n')}\nCommands: /hint (a nudge), /save (checkpoint), /help, /quit (with or without the slash)\n`;
}
