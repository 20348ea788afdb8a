import { beforeAll, describe, expect, it } from 'vitest';
import { buildLexicon, parseInput, type Lexicon, type ParsedInput } from '../../../src/actors/classifiers/stage1.ts';
import { sampleStory } from '../../support/story.ts';

let lexicon: Lexicon;
let soloLexicon: Lexicon;

beforeAll(async () => {
  const story = await sampleStory();
  const setting = (id: string) => story.settings.find((s) => s.id === id)!;
  lexicon = buildLexicon({
    characters: story.characters,
    objects: story.entities,
    settings: [setting('keepers_yard'), setting('lamp_room'), setting('cliff_path'), setting('village_inn'), setting('harbour')],
  });
  soloLexicon = buildLexicon({ characters: story.characters.filter((c) => c.id === 'ewan'), objects: story.entities, settings: [setting('harbour'), setting('village_inn')] });
});

type Expect = Partial<Pick<ParsedInput, 'kind' | 'verb' | 'addressee' | 'entity' | 'recipient' | 'destination' | 'content' | 'command'>>;

const table: Array<[string, Expect]> = [
  ['look', { kind: 'examination', verb: 'look', entity: undefined }],
  ['examine the tide table', { kind: 'examination', entity: 'tide_table' }],
  ['x letter', { kind: 'examination', entity: 'board_letter' }],
  ['look at Tobias', { kind: 'examination', entity: 'tobias' }],
  ['ask Ewan about the light', { kind: 'question', verb: 'ask', addressee: 'ewan', content: 'about the light' }],
  ['talk to Nell about the lamp', { kind: 'speech', verb: 'talk', addressee: 'nell', content: 'about the lamp' }],
  ['tell Ada that I am the new keeper', { kind: 'speech', addressee: 'ada', content: 'that i am the new keeper' }],
  ['say "Where is the keeper?" to Ewan', { kind: 'question', addressee: 'ewan', content: 'Where is the keeper?' }],
  ['What happened to Davey?', { kind: 'question' }],
  ['give me the lamp, Nell', { kind: 'speech', addressee: 'nell', content: 'give me the lamp nell' }],
  ['please show me the letter', { kind: 'speech' }],
  ['give the letter to Ada', { kind: 'action', verb: 'give', entity: 'board_letter', recipient: 'ada' }],
  ['give Ada the letter', { kind: 'action', verb: 'give', entity: 'board_letter', recipient: 'ada' }],
  ["hand Davey's lamp to Tobias", { kind: 'action', verb: 'give', entity: 'brass_lamp', recipient: 'tobias' }],
  ['show the letter to ada', { kind: 'action', verb: 'show', entity: 'board_letter', recipient: 'ada' }],
  ['take the key', { kind: 'action', verb: 'take', entity: 'iron_key' }],
  ['pick up the lantern', { kind: 'action', verb: 'take', entity: 'brass_lamp' }],
  ['drop the letter', { kind: 'action', verb: 'drop', entity: 'board_letter' }],
  ['unlock the door with the key', { kind: 'action', verb: 'unlock', entity: 'tower_door' }],
  ['light the great lamp', { kind: 'action', verb: 'light', entity: 'great_lamp' }],
  ['kindle the wick', { kind: 'action', verb: 'light', entity: 'great_lamp' }],
  ['kick the pail', { kind: 'action', verb: 'kick', entity: 'paraffin_pail' }],
  ['hug Nell', { kind: 'action', verb: 'comfort', entity: 'nell' }],
  ['go up', { kind: 'movement', verb: 'go', destination: 'lamp_room' }],
  ['climb the stairs', { kind: 'movement', destination: 'lamp_room' }],
  ['walk back to the cliff path', { kind: 'movement', destination: 'cliff_path' }],
  ['go to the lighthouse', { kind: 'movement', destination: 'keepers_yard' }], // where the player already is
  ['go to the inn', { kind: 'movement', destination: 'village_inn' }],
  ['/save', { kind: 'meta', command: 'save' }],
  ['/hint please', { kind: 'meta', command: 'hint' }],
  ['inventory', { kind: 'meta', command: 'inventory' }],
  ['i', { kind: 'meta', command: 'inventory' }],
];

describe('stage 1: structural parsing', () => {
  it.each(table)('%s', (input, expected) => {
    const parsed = parseInput(input, lexicon);
    for (const [key, value] of Object.entries(expected)) expect(parsed[key as keyof ParsedInput], key).toEqual(value);
  });

  it('speech with no named addressee goes to the only person present', () => {
    expect(parseInput('hello there', soloLexicon)).toMatchObject({ kind: 'speech', addressee: 'ewan' });
    expect(parseInput('why is the light dark?', soloLexicon)).toMatchObject({ kind: 'question', addressee: 'ewan' });
    expect(parseInput('hello there', lexicon).addressee).toBeUndefined();
  });

  it('keywords drop stop words and keep content words', () => {
    expect(parseInput('ask Ewan about the lighthouse keeper', lexicon).keywords).toEqual(['ewan', 'lighthouse', 'keeper']);
  });

  it('mentions are resolved longest first without overlaps', () => {
    const parsed = parseInput('light the great lamp with the brass lamp', lexicon);
    expect(parsed.mentions.map((m) => m.id)).toEqual(['great_lamp', 'brass_lamp']);
  });
});
