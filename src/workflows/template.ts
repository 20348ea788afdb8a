import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { StorytellerError } from '../errors.ts';
import { taskTemplateSchema, type StepDefinition, type TaskTemplate } from './contract.ts';

export const SCENE_BOUNDARY_TEMPLATE_PATH = fileURLToPath(new URL('./scene_boundary_processing.yaml', import.meta.url));
export const BETWEEN_SESSIONS_TEMPLATE_PATH = fileURLToPath(new URL('./between_sessions_processing.yaml', import.meta.url));

/** A validated template with its DAG checked: every dependency names an earlier-declared or later step, no cycles. */
export interface LoadedTemplate {
  template: TaskTemplate;
  /** Steps in a topological order (the declaration order when it already is one). */
  order: StepDefinition[];
}

/**
 * Parses and validates a Tasker task template (contract §4) and its dependency graph.
 * @throws StorytellerError WORKFLOW_MESSAGE_INVALID
 */
export function parseTemplate(text: string, source = 'template'): LoadedTemplate {
  const parsed = taskTemplateSchema.safeParse(parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StorytellerError('WORKFLOW_MESSAGE_INVALID', `${source}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const template = parsed.data;
  const byName = new Map(template.steps.map((s) => [s.name, s]));
  if (byName.size !== template.steps.length) throw new StorytellerError('WORKFLOW_MESSAGE_INVALID', `${source}: duplicate step names`);
  const order: StepDefinition[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (s: StepDefinition): void => {
    if (state.get(s.name) === 'done') return;
    if (state.get(s.name) === 'visiting') throw new StorytellerError('WORKFLOW_MESSAGE_INVALID', `${source}: dependency cycle at ${s.name}`);
    state.set(s.name, 'visiting');
    for (const d of s.dependencies) {
      const dep = byName.get(d);
      if (!dep) throw new StorytellerError('WORKFLOW_MESSAGE_INVALID', `${source}: step ${s.name} depends on unknown step ${d}`);
      visit(dep);
    }
    state.set(s.name, 'done');
    order.push(s);
  };
  for (const s of template.steps) visit(s);
  return { template, order };
}

export function loadTemplate(path: string = SCENE_BOUNDARY_TEMPLATE_PATH): LoadedTemplate {
  return parseTemplate(readFileSync(path, 'utf8'), path);
}
