import { z } from 'zod';
import { boundedPredicateSchema, type TriggerPredicate } from '../predicates.ts';
import { axisProvenanceSchema, characterModelShape, relationModelShape, sceneTensionSchema } from './character-model.ts';

/**
 * The story file format (docs/story-format.md). A story is settings, characters,
 * entities, the relational web and scenes; every condition in it (gates, goals,
 * departures, endings, contingent cast) is a TriggerPredicate (src/domain/predicates.ts).
 * This module checks shape only; `cross-references.ts` checks that ids resolve.
 *
 * @example
 * const story = storySchema.parse(YAML.parse(text));
 */

/** Author ids: lower_snake_case so they read well in predicates and logs. */
export const storyKey = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_]*$/, 'ids are lower_snake_case (a-z, 0-9, _), starting with a letter');

/** The player's fixed id in predicates (`holds(player, lamp)`). */
export const PLAYER_ID = 'player';

const unit = z.number().min(0).max(1);
const signed = z.number().min(-1).max(1);
const prose = z.string().min(1).max(4_000);
const predicate = boundedPredicateSchema as z.ZodType<TriggerPredicate>;

export const EMOTIONS = ['joy', 'trust', 'fear', 'surprise', 'sadness', 'disgust', 'anger', 'anticipation'] as const;
export type Emotion = (typeof EMOTIONS)[number];

// ---- settings
export const adjacencySchema = z
  .object({
    to: storyKey,
    /** Traversal cost in narrative steps (turns of walking). */
    cost: z.number().int().min(1).max(100).default(1),
    /** A one-way passage; an undirected edge must be listed on both settings with the same cost. */
    directed: z.boolean().default(false),
  })
  .strict();

export const settingSchema = z
  .object({
    id: storyKey,
    name: z.string().min(1).max(200),
    aliases: z.array(z.string().min(1).max(100)).max(16).default([]),
    description: prose,
    atmosphere: z.string().max(1_000).default(''),
    /** Keys a `settingFeature` atom can test (e.g. `storm_wind`). */
    features: z.array(storyKey).max(32).default([]),
    zones: z.array(z.object({ id: storyKey, name: z.string().min(1).max(200), description: z.string().max(1_000).default('') }).strict()).max(16).default([]),
    adjacent: z.array(adjacencySchema).max(16).default([]),
  })
  .strict();

// ---- characters
export const personalityAxisSchema = z
  .object({
    name: storyKey,
    central: signed,
    variance: unit.default(0.1),
    low: signed,
    high: signed,
    layer: z.enum(['topsoil', 'sediment', 'bedrock', 'primordial']).default('sediment'),
    awareness: z.enum(['articulate', 'recognizable', 'preconscious', 'defended', 'structural']).optional(),
    provenance: axisProvenanceSchema,
  })
  .strict()
  .refine((a) => a.low <= a.central && a.central <= a.high, { message: 'an axis needs low ≤ central ≤ high' });

export const motivationSchema = z
  .object({
    id: storyKey,
    layer: z.enum(['surface', 'deep', 'shadow']),
    description: z.string().min(1).max(1_000),
    /** Words that touch this motivation when the player uses them (sensitivity map). */
    keywords: z.array(z.string().min(1).max(50)).max(32).default([]),
    /** The motivation is active only while this holds (default: always). */
    activeWhen: predicate.optional(),
  })
  .strict();

export const communicabilitySchema = z
  .object({
    surfaceArea: unit,
    translationFriction: unit,
    timescale: z.enum(['instant', 'conversational', 'slow', 'geologic']).default('conversational'),
    reciprocity: unit,
  })
  .strict();

export const persistenceSchema = z
  .object({
    mode: z.enum(['ephemeral', 'persistent', 'anchored', 'permanent']),
    /** Turns for the narrative weight to decay by 1/e when nothing touches the entity. */
    decayTurns: z.number().positive().max(100_000).optional(),
    distanceFactor: unit.default(0.5),
    narrativeWeightFloor: unit.default(0),
    interactionResets: z.boolean().default(true),
  })
  .strict();

export const echoPatternSchema = z
  .object({
    id: storyKey,
    description: z.string().min(1).max(1_000),
    keywords: z.array(z.string().min(1).max(50)).min(1).max(32),
  })
  .strict();

/** Authored lines the offline (scripted) provider speaks with; real LLMs use them as voice samples. */
export const linesSchema = z
  .object({
    greeting: z.array(z.string().min(1).max(600)).max(16).default([]),
    reply: z.array(z.string().min(1).max(600)).max(32).default([]),
    idle: z.array(z.string().min(1).max(600)).max(32).default([]),
    refusal: z.array(z.string().min(1).max(600)).max(16).default([]),
  })
  .strict();

export const characterSchema = z
  .object({
    id: storyKey,
    name: z.string().min(1).max(200),
    aliases: z.array(z.string().min(1).max(100)).max(16).default([]),
    description: prose,
    /** How they speak: register, idiom. */
    voice: z.string().max(1_000).default(''),
    axes: z.array(personalityAxisSchema).min(1).max(16),
    emotions: z.partialRecord(z.enum(EMOTIONS), unit).default({}),
    motivations: z.array(motivationSchema).min(1).max(16),
    communicability: communicabilitySchema,
    persistence: persistenceSchema,
    echoes: z.array(echoPatternSchema).max(16).default([]),
    lines: linesSchema.default({ greeting: [], reply: [], idle: [], refusal: [] }),
    ...characterModelShape,
  })
  .strict();

// ---- entities (objects)
export const affordanceSchema = z
  .object({
    /** The verb the player uses (stage 1 normalises synonyms: light/kindle → light). */
    action: storyKey,
    /** More verbs that reach it (`verbs: [yank, push, move]`), beside the shipped synonyms of `action`. */
    verbs: z.array(storyKey).max(16).default([]),
    /** An entity the actor must hold for this to be possible. */
    requires: storyKey.optional(),
    /** World-state changes it makes. */
    sets: z.record(storyKey, z.union([z.string(), z.number(), z.boolean()])).default({}),
    /** What happens, for the narrator. */
    text: z.string().min(1).max(1_000),
    /** Shown when `requires` is missing. */
    refusal: z.string().max(600).optional(),
  })
  .strict();

export const entitySchema = z
  .object({
    id: storyKey,
    name: z.string().min(1).max(200),
    aliases: z.array(z.string().min(1).max(100)).max(16).default([]),
    description: prose,
    /** Can be taken, given, dropped. */
    portable: z.boolean().default(false),
    /** Who holds it at the start (`player` or a character id); exclusive with `location`. */
    heldBy: storyKey.optional(),
    /** Where it lies at the start (a setting id). */
    location: storyKey.optional(),
    affordances: z.array(affordanceSchema).max(16).default([]),
    persistence: persistenceSchema.default({ mode: 'persistent', distanceFactor: 0.5, narrativeWeightFloor: 0, interactionResets: true }),
    communicability: communicabilitySchema.optional(),
  })
  .strict()
  .refine((e) => !(e.heldBy && e.location), { message: 'an entity is either held (heldBy) or lies somewhere (location), not both' });

// ---- relational web
export const relationSchema = z
  .object({
    from: storyKey,
    to: storyKey,
    trust_reliability: signed,
    trust_competence: signed,
    trust_benevolence: signed,
    affection: signed,
    debt: signed,
    /** What `from` knows / believes / does not see about `to` (information boundary for character agents). */
    knows: z.array(z.string().min(1).max(400)).max(16).default([]),
    believes: z.array(z.string().min(1).max(400)).max(16).default([]),
    blindTo: z.array(z.string().min(1).max(400)).max(16).default([]),
    ...relationModelShape,
  })
  .strict();

// ---- scenes
export const effectSchema = z.union([
  z.object({ transfer: z.object({ entity: storyKey, to: storyKey }).strict() }).strict(),
  z.object({ world: z.object({ key: storyKey, value: z.union([z.string(), z.number(), z.boolean()]) }).strict() }).strict(),
  z
    .object({
      relationship: z
        .object({
          from: storyKey,
          to: storyKey,
          dimension: z.enum(['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt']),
          delta: z.number().min(-2).max(2),
        })
        .strict(),
    })
    .strict(),
]);
export type Effect = z.infer<typeof effectSchema>;

export const gateSchema = z
  .object({
    id: storyKey,
    /** What is released when the gate opens (the narrator delivers it; `speaker` says it). */
    content: prose,
    condition: predicate,
    speaker: storyKey.optional(),
    delivery: z.enum(['immediate', 'when_natural', 'if_prompted']).default('immediate'),
    /** Gates evaluated only after this one fired (downstream gates). */
    after: z.array(storyKey).max(8).default([]),
    effects: z.array(effectSchema).max(16).default([]),
  })
  .strict();

export const goalSchema = z
  .object({
    id: storyKey,
    description: z.string().min(1).max(1_000),
    completion: predicate,
    visibility: z.enum(['overt', 'signaled', 'hidden', 'structural']).default('overt'),
    primary: z.boolean().default(false),
    effects: z.array(effectSchema).max(16).default([]),
  })
  .strict();

export const departureSchema = z
  .object({
    to: storyKey,
    /** Open when this holds. The scene exits through it when it is open and the player is in its setting. */
    when: predicate,
    /** A line the narrator uses when the departure is taken. */
    text: z.string().max(1_000).default(''),
    significance: z.enum(['trivial', 'casual', 'significant', 'irreversible']).default('casual'),
  })
  .strict();

export const constraintSchema = z
  .object({
    id: storyKey,
    /** How the world or the story pushes back, for the narrator. */
    text: z.string().min(1).max(1_000),
    kind: z.enum(['hard', 'soft', 'perceptual']).default('soft'),
    /** The player action it forbids in this scene. */
    forbids: z.object({ action: storyKey, target: storyKey.optional() }).strict(),
    /** The constraint lifts while this holds. */
    unless: predicate.optional(),
  })
  .strict();

export const sceneSchema = z
  .object({
    id: storyKey,
    name: z.string().min(1).max(200),
    type: z.enum(['gravitational', 'gate', 'connective', 'threshold']),
    setting: storyKey,
    /** The prose the narrator opens the scene with. */
    description: prose,
    /** The scene's pull on the story (0..10). */
    mass: z.number().min(0).max(10).default(1),
    tension: sceneTensionSchema,
    cast: z
      .object({
        required: z.array(storyKey).max(24).default([]),
        contingent: z.array(z.object({ character: storyKey, when: predicate }).strict()).max(24).default([]),
      })
      .strict(),
    /** How many entities (objects + cast) the scene may hold in its hot cache. */
    entityBudget: z.number().int().min(1).max(500).default(32),
    goals: z.array(goalSchema).max(16).default([]),
    gates: z.array(gateSchema).max(32).default([]),
    constraints: z.array(constraintSchema).max(16).default([]),
    departures: z.array(departureSchema).max(8).default([]),
    /** A final scene: the story ends when this holds. */
    ending: z.object({ when: predicate, text: prose }).strict().optional(),
    /** What `/hint` says where the next step cannot be read from the conditions, in order as primary goals complete. */
    hints: z.array(z.string().min(1).max(400)).max(8).default([]),
    reenterable: z.boolean().default(false),
  })
  .strict();

export const storySchema = z
  .object({
    format: z.literal(1).default(1),
    id: storyKey,
    title: z.string().min(1).max(200),
    version: z.number().int().positive().default(1),
    author: z.string().max(200).default(''),
    intro: prose,
    player: z
      .object({
        name: z.string().min(1).max(200).default('you'),
        description: z.string().max(2_000).default(''),
        startsAt: storyKey,
      })
      .strict(),
    start: storyKey,
    /** Initial world state (`worldState` atoms and affordance `sets` refer to these keys). */
    world: z.record(storyKey, z.union([z.string(), z.number(), z.boolean()])).default({}),
    settings: z.array(settingSchema).min(1).max(200),
    characters: z.array(characterSchema).max(500).default([]),
    entities: z.array(entitySchema).max(2_000).default([]),
    relations: z.array(relationSchema).max(5_000).default([]),
    scenes: z.array(sceneSchema).min(1).max(500),
  })
  .strict();

export type Story = z.infer<typeof storySchema>;
export type Setting = z.infer<typeof settingSchema>;
export type Character = z.infer<typeof characterSchema>;
export type StoryEntity = z.infer<typeof entitySchema>;
export type Relation = z.infer<typeof relationSchema>;
export type Scene = z.infer<typeof sceneSchema>;
export type Gate = z.infer<typeof gateSchema>;
export type Goal = z.infer<typeof goalSchema>;
export type Departure = z.infer<typeof departureSchema>;
export type SceneConstraint = z.infer<typeof constraintSchema>;
export type Affordance = z.infer<typeof affordanceSchema>;
export type Motivation = z.infer<typeof motivationSchema>;
