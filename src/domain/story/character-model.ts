import { z } from 'zod';

/**
 * The character psychology the frame model's schema (storyteller-character/1,
 * src/inference/frame/character-schema.ts) reads, as story-format fields. Every field has
 * a default, so stories written before it still load (docs/story-format.md, "Migration").
 * schema.ts spreads these shapes into its character, axis, relation and scene objects.
 */

const unit = z.number().min(0).max(1);

/** Who vouches for an axis value (peer: Provenance). Authored stories default to `authored`. */
export const axisProvenanceSchema = z.enum(['authored', 'inferred', 'generated', 'confirmed', 'overridden']).default('authored');

export const awarenessSchema = z.enum(['articulate', 'recognizable', 'preconscious', 'defended', 'structural']);

/** Plutchik's primaries, the story format's emotion ids (wheel order). */
export const PRIMARY_EMOTIONS = ['joy', 'trust', 'fear', 'surprise', 'sadness', 'disgust', 'anger', 'anticipation'] as const;

/**
 * The two orders of Plutchik's primaries in circulation in the peer project; a
 * character's primaries are encoded (and decoded indices named) in its declared order.
 * `wheel` is the order the peer's emotion-delta labels were written in, so the default.
 */
export const EMOTION_ORDERS = {
  wheel: PRIMARY_EMOTIONS,
  grammar: ['joy', 'sadness', 'trust', 'disgust', 'fear', 'anger', 'surprise', 'anticipation'],
} as const satisfies Record<string, readonly (typeof PRIMARY_EMOTIONS)[number][]>;
export type EmotionOrder = keyof typeof EMOTION_ORDERS;

/** How the character stands toward itself (peer SelfEdge). */
export const selfEdgeSchema = z
  .object({
    competence: unit.default(0.5),
    intentions: unit.default(0.5),
    reliability: unit.default(0.5),
    affection: unit.default(0.5),
    debt: unit.default(0),
    historyWeight: unit.default(0.5),
    projectionAccuracy: unit.default(0.5),
  })
  .strict();
export type SelfEdgeSpec = z.infer<typeof selfEdgeSchema>;
export const DEFAULT_SELF_EDGE: SelfEdgeSpec = selfEdgeSchema.parse({});

/** A character's place in the relational web when it is an edge's target (peer TopologicalRole). */
export const topologicalRoleSchema = z.enum(['gate', 'bridge', 'hub', 'periphery']).default('periphery');
/** The player is the hub of every story's web: every cast member's edge toward the player targets a hub. */
export const PLAYER_TOPOLOGICAL_ROLE = 'hub' as const;

/** Fields added to a character. */
export const characterModelShape = {
  /** Order of the emotional primaries in the frame (and of decoded primary indices). */
  emotionOrder: z.enum(['wheel', 'grammar']).default('wheel'),
  /** How aware the character is of each primary; unlisted ones are `recognizable`. */
  emotionAwareness: z.partialRecord(z.enum(PRIMARY_EMOTIONS), awarenessSchema).default({}),
  selfEdge: selfEdgeSchema.default(DEFAULT_SELF_EDGE),
  /** Its topological role when another character's edge points at it. */
  role: topologicalRoleSchema,
};

export const DEFAULT_PRIMARY_AWARENESS = 'recognizable' as const;

/**
 * Uncertainty of one relational dimension: the substrate quadruple is
 * (value, variance, max(value − spread, −1), min(value + spread, 1)), so it stays valid as
 * the value moves during play. Defaults are the peer's training generator's (0.15, 0.225).
 */
export const substrateSpreadSchema = z.object({ variance: unit.default(0.15), spread: unit.default(0.225) }).strict();
export const SUBSTRATE_DEFAULTS = { variance: 0.15, spread: 0.225 } as const;

/** Fields added to a relation. */
export const relationModelShape = {
  substrate: z.partialRecord(z.enum(['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt']), substrateSpreadSchema).default({}),
};

/** Scene tension in [0, 1]; without it the runtime derives one from the scene's mass. */
export const sceneTensionSchema = unit.optional();
