import { z } from 'zod';
import { StorytellerError } from '../../errors.ts';
import {
  RELATIONAL_ATTRIBUTES,
  SCENE_TYPES,
  type EdgeInput,
  type EdgeUpdate,
  type TrustThresholds,
  type VertexInput,
} from './graph-store.ts';

/**
 * zod at the graph store's boundary. Ids and names are arbitrary text (quotes, `$$`,
 * Cypher, SQL — all data), except what PostgreSQL text cannot hold: NUL and lone UTF-16
 * surrogates (they would not round-trip).
 */
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL')
    .refine((s) => !/\p{Surrogate}/u.test(s), 'must not contain a lone surrogate');

export const graphIdSchema = text(512).pipe(z.string().min(1));
const nameSchema = text(4000);
const finite = z.number().finite();
const relationalValue = finite;
const relationalValues = Object.fromEntries(RELATIONAL_ATTRIBUTES.map((a) => [a, relationalValue])) as Record<
  (typeof RELATIONAL_ATTRIBUTES)[number],
  typeof relationalValue
>;

export const vertexInputSchema = z.discriminatedUnion('label', [
  z.strictObject({ label: z.enum(['Character', 'Entity', 'Setting', 'Zone']), id: graphIdSchema, name: nameSchema }),
  z.strictObject({
    label: z.literal('Scene'),
    id: graphIdSchema,
    name: nameSchema,
    sceneType: z.enum(SCENE_TYPES),
    authoredMass: finite,
    castIds: z.array(graphIdSchema).max(256),
  }),
]);

export const edgeInputSchema = z.discriminatedUnion('label', [
  z.strictObject({ label: z.literal('RELATES_TO'), from: graphIdSchema, to: graphIdSchema, ...relationalValues }),
  z.strictObject({ label: z.literal('LEADS_TO'), from: graphIdSchema, to: graphIdSchema }),
  z.strictObject({ label: z.literal('SCENE_AT'), from: graphIdSchema, to: graphIdSchema }),
  z.strictObject({ label: z.literal('ADJACENT_TO'), from: graphIdSchema, to: graphIdSchema, traversalCost: finite.min(0) }),
  z.strictObject({ label: z.literal('CONTAINS'), fromLabel: z.enum(['Zone', 'Setting']), from: graphIdSchema, to: graphIdSchema }),
]);

const partialValues = z.strictObject(
  Object.fromEntries(RELATIONAL_ATTRIBUTES.map((a) => [a, finite.optional()])) as Record<
    (typeof RELATIONAL_ATTRIBUTES)[number],
    z.ZodOptional<typeof finite>
  >,
);

export const edgeUpdateSchema = z.strictObject({
  from: graphIdSchema,
  to: graphIdSchema,
  deltas: partialValues.optional(),
  set: partialValues.optional(),
});

const thresholdsSchema = z.strictObject({ minCompetence: finite.optional(), minBenevolence: finite.optional() });

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; ');
    throw new StorytellerError('GRAPH_ARGUMENT_INVALID', `invalid ${what} — ${problems}`, { details: { what } });
  }
  return result.data;
}

export const validateId = (value: unknown, what = 'id'): string => parse(graphIdSchema, value, what);
export const validateIds = (value: unknown, what = 'ids'): string[] => parse(z.array(graphIdSchema).max(10_000), value, what);
export const validateVertices = (value: unknown): VertexInput[] => parse(z.array(vertexInputSchema), value, 'vertices');
export const validateEdges = (value: unknown): EdgeInput[] => parse(z.array(edgeInputSchema), value, 'edges');
export const validateEdgeUpdates = (value: unknown): EdgeUpdate[] => parse(z.array(edgeUpdateSchema), value, 'edge updates');
export const validateUuid = (value: unknown, what = 'session id'): string => parse(z.uuid(), value, what);

/** Seed defaults: trust_competence > 0.5 and trust_benevolence > 0.3. */
export function resolveThresholds(value: TrustThresholds | undefined): { minCompetence: number; minBenevolence: number } {
  const t = parse(thresholdsSchema, value ?? {}, 'trust thresholds');
  return { minCompetence: t.minCompetence ?? 0.5, minBenevolence: t.minBenevolence ?? 0.3 };
}

export function validateMaxHops(value: number | undefined): 1 | 2 | 3 {
  return parse(z.union([z.literal(1), z.literal(2), z.literal(3)]), value ?? 3, 'maxHops (1..3)');
}
