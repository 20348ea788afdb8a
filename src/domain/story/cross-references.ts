import type { Atom, EventPattern, TriggerPredicate } from '../predicates.ts';
import { PLAYER_ID, type Effect, type Story } from './schema.ts';

/**
 * Checks what the schema cannot: every id a story mentions exists, departures lead to
 * real scenes, adjacency is symmetric unless marked `directed`, budgets hold, and
 * the ids inside predicates name things of the right kind. Each problem carries the
 * path in the file where it was found.
 *
 * @example
 * const problems = crossReferenceProblems(story); // [] when the story is sound
 */
export interface StoryProblem {
  /** Path segments into the file, e.g. ['scenes', 2, 'gates', 0, 'condition']. */
  path: (string | number)[];
  message: string;
}

export interface CrossReferenceOptions {
  /**
   * Ids of parts that failed the schema (so they are not in `story`): references to them are
   * not reported again as unknown. The loader uses it to report every problem in one run.
   */
  knownIds?: ReadonlySet<string>;
}

export function crossReferenceProblems(story: Story, options: CrossReferenceOptions = {}): StoryProblem[] {
  const problems: StoryProblem[] = [];
  const add = (path: (string | number)[], message: string) => problems.push({ path, message });
  const known = [...(options.knownIds ?? [])];

  const settings = new Set([...story.settings.map((s) => s.id), ...known]);
  const characters = new Set([...story.characters.map((c) => c.id), ...known]);
  const entities = new Set([...story.entities.map((e) => e.id), ...known]);
  const scenes = new Set([...story.scenes.map((s) => s.id), ...known]);
  const gates = new Set([...story.scenes.flatMap((s) => s.gates.map((g) => g.id)), ...known]);
  const goals = new Set([...story.scenes.flatMap((s) => s.goals.map((g) => g.id)), ...known]);
  const actors = new Set([PLAYER_ID, ...characters]);
  const anything = new Set([...actors, ...entities, ...settings, ...scenes, ...gates, ...goals]);
  const worldKeys = new Set([
    ...Object.keys(story.world),
    ...story.entities.flatMap((e) => e.affordances.flatMap((a) => Object.keys(a.sets))),
    ...story.scenes.flatMap((s) => [...s.gates, ...s.goals].flatMap((g) => g.effects.flatMap((e) => ('world' in e ? [e.world.key] : [])))),
  ]);

  duplicates(story.settings.map((s) => s.id), ['settings'], 'setting', add);
  duplicates(story.characters.map((c) => c.id), ['characters'], 'character', add);
  duplicates(story.entities.map((e) => e.id), ['entities'], 'entity', add);
  duplicates(story.scenes.map((s) => s.id), ['scenes'], 'scene', add);
  duplicates(story.scenes.flatMap((s) => s.gates.map((g) => g.id)), ['scenes'], 'gate', add);
  duplicates(story.scenes.flatMap((s) => s.goals.map((g) => g.id)), ['scenes'], 'goal', add);
  const everyId = [...story.settings.map((x) => x.id), ...story.characters.map((x) => x.id), ...story.entities.map((x) => x.id)];
  if (everyId.includes(PLAYER_ID)) add([], `"${PLAYER_ID}" is reserved for the player`);
  duplicates(everyId, [], 'setting/character/entity', add);

  if (!scenes.has(story.start)) add(['start'], `unknown scene "${story.start}"`);
  if (!settings.has(story.player.startsAt)) add(['player', 'startsAt'], `unknown setting "${story.player.startsAt}"`);

  // Adjacency: undirected edges must be listed on both ends with the same cost.
  const adjacency = new Map(story.settings.map((s) => [s.id, s.adjacent]));
  story.settings.forEach((setting, i) => {
    setting.adjacent.forEach((edge, j) => {
      const path = ['settings', i, 'adjacent', j];
      if (!settings.has(edge.to)) return add([...path, 'to'], `unknown setting "${edge.to}"`);
      if (edge.to === setting.id) return add([...path, 'to'], 'a setting cannot be adjacent to itself');
      if (edge.directed) return;
      const back = adjacency.get(edge.to)?.find((b) => b.to === setting.id);
      if (!back) add(path, `adjacency ${setting.id} → ${edge.to} is not symmetric: add ${setting.id} to ${edge.to}.adjacent or mark it directed: true`);
      else if (back.cost !== edge.cost) add([...path, 'cost'], `cost ${edge.cost} differs from the way back (${back.cost})`);
    });
  });

  story.entities.forEach((entity, i) => {
    if (entity.heldBy && !actors.has(entity.heldBy)) add(['entities', i, 'heldBy'], `unknown holder "${entity.heldBy}"`);
    if (entity.location && !settings.has(entity.location)) add(['entities', i, 'location'], `unknown setting "${entity.location}"`);
    if (entity.heldBy && !entity.portable) add(['entities', i, 'heldBy'], 'only portable entities can be held');
    entity.affordances.forEach((a, j) => {
      if (a.requires && !entities.has(a.requires)) add(['entities', i, 'affordances', j, 'requires'], `unknown entity "${a.requires}"`);
    });
  });

  story.characters.forEach((character, i) => {
    character.motivations.forEach((m, j) => {
      if (m.activeWhen) checkPredicate(m.activeWhen, ['characters', i, 'motivations', j, 'activeWhen']);
    });
  });

  story.relations.forEach((r, i) => {
    if (!actors.has(r.from)) add(['relations', i, 'from'], `unknown character "${r.from}"`);
    if (!actors.has(r.to)) add(['relations', i, 'to'], `unknown character "${r.to}"`);
    if (r.from === r.to) add(['relations', i], 'a relation joins two different characters');
  });
  const edgeKeys = story.relations.map((r) => `${r.from}→${r.to}`);
  duplicates(edgeKeys, ['relations'], 'relation', add);

  story.scenes.forEach((scene, i) => {
    const at = (...rest: (string | number)[]) => ['scenes', i, ...rest];
    if (!settings.has(scene.setting)) add(at('setting'), `unknown setting "${scene.setting}"`);
    scene.cast.required.forEach((c, j) => {
      if (!characters.has(c)) add(at('cast', 'required', j), `unknown character "${c}"`);
    });
    scene.cast.contingent.forEach((c, j) => {
      if (!characters.has(c.character)) add(at('cast', 'contingent', j, 'character'), `unknown character "${c.character}"`);
      checkPredicate(c.when, at('cast', 'contingent', j, 'when'));
    });
    const castSize = scene.cast.required.length + scene.cast.contingent.length;
    const objects = story.entities.filter((e) => e.location === scene.setting).length;
    if (castSize + objects > scene.entityBudget) {
      add(at('entityBudget'), `budget ${scene.entityBudget} is below the ${castSize} cast members + ${objects} objects the scene can hold`);
    }
    const sceneGates = new Set(scene.gates.map((g) => g.id));
    scene.gates.forEach((gate, j) => {
      checkPredicate(gate.condition, at('gates', j, 'condition'));
      if (gate.speaker && !characters.has(gate.speaker)) add(at('gates', j, 'speaker'), `unknown character "${gate.speaker}"`);
      else if (gate.speaker && !scene.cast.required.includes(gate.speaker) && !scene.cast.contingent.some((c) => c.character === gate.speaker)) {
        add(at('gates', j, 'speaker'), `speaker "${gate.speaker}" is not in this scene's cast (add them to cast.required or cast.contingent)`);
      }
      gate.after.forEach((g, k) => {
        if (!sceneGates.has(g)) add(at('gates', j, 'after', k), `unknown gate "${g}" (downstream gates name gates of the same scene)`);
      });
      gate.effects.forEach((e, k) => checkEffect(e, at('gates', j, 'effects', k)));
    });
    scene.goals.forEach((goal, j) => {
      checkPredicate(goal.completion, at('goals', j, 'completion'));
      goal.effects.forEach((e, k) => checkEffect(e, at('goals', j, 'effects', k)));
    });
    scene.constraints.forEach((c, j) => {
      if (c.forbids.target && !anything.has(c.forbids.target)) add(at('constraints', j, 'forbids', 'target'), `unknown id "${c.forbids.target}"`);
      if (c.unless) checkPredicate(c.unless, at('constraints', j, 'unless'));
    });
    scene.departures.forEach((d, j) => {
      if (!scenes.has(d.to)) add(at('departures', j, 'to'), `departure to unknown scene "${d.to}"`);
      checkPredicate(d.when, at('departures', j, 'when'));
      const target = story.scenes.find((s) => s.id === d.to);
      if (target && target.setting !== scene.setting && !reachable(scene.setting, target.setting)) {
        add(at('departures', j, 'to'), `setting "${target.setting}" of scene "${d.to}" is not adjacent to "${scene.setting}"`);
      }
    });
    if (scene.ending) checkPredicate(scene.ending.when, at('ending', 'when'));
    if (scene.departures.length === 0 && !scene.ending) add(at(), 'a scene needs departures or an ending, or the story cannot go on');
  });

  return problems;

  function reachable(from: string, to: string): boolean {
    return (adjacency.get(from) ?? []).some((e) => e.to === to);
  }

  function checkEffect(e: Effect, path: (string | number)[]): void {
    if ('transfer' in e) {
      if (!entities.has(e.transfer.entity)) add([...path, 'transfer', 'entity'], `unknown entity "${e.transfer.entity}"`);
      if (!actors.has(e.transfer.to)) add([...path, 'transfer', 'to'], `unknown character "${e.transfer.to}"`);
    } else if ('relationship' in e) {
      if (!actors.has(e.relationship.from)) add([...path, 'relationship', 'from'], `unknown character "${e.relationship.from}"`);
      if (!actors.has(e.relationship.to)) add([...path, 'relationship', 'to'], `unknown character "${e.relationship.to}"`);
    }
  }

  function checkPattern(p: EventPattern, path: (string | number)[]): void {
    for (const field of ['involving', 'actor', 'target'] as const) {
      const value = p[field];
      if (value !== undefined && !anything.has(value)) add([...path, field], `unknown id "${value}"`);
    }
  }

  function checkAtom(a: Atom, path: (string | number)[]): void {
    if ('holds' in a) {
      const { predicate, args } = a.holds;
      const p = [...path, 'holds', 'args'];
      const expect = (index: number, kinds: Set<string>, kind: string) => {
        const value = args[index];
        if (value !== undefined && !kinds.has(value)) add([...p, index], `unknown ${kind} "${value}" in ${predicate}(…)`);
      };
      switch (predicate) {
        case 'holds':
          expect(0, actors, 'holder');
          expect(1, entities, 'entity');
          break;
        case 'at':
          expect(0, actors, 'actor');
          expect(1, settings, 'setting');
          break;
        case 'knows':
          expect(0, actors, 'character');
          expect(1, gates, 'gate');
          break;
        case 'gate_fired':
          expect(0, gates, 'gate');
          break;
        case 'goal_completed':
          expect(0, goals, 'goal');
          break;
        case 'visited':
          expect(0, scenes, 'scene');
          break;
        case 'present':
          expect(0, characters, 'character');
          break;
        case 'examined':
        case 'said':
        case 'did':
          expect(0, actors, 'actor');
          break;
        default:
          add([...path, 'holds', 'predicate'], `unknown proposition "${predicate}" (see the vocabulary in docs/story-format.md)`);
      }
    } else if ('eventOccurred' in a) checkPattern(a.eventOccurred, [...path, 'eventOccurred']);
    else if ('characterPresent' in a) {
      if (!characters.has(a.characterPresent)) add([...path, 'characterPresent'], `unknown character "${a.characterPresent}"`);
    } else if ('worldState' in a) {
      if (!worldKeys.has(a.worldState.key)) add([...path, 'worldState', 'key'], `unknown world-state key "${a.worldState.key}" (declare it under world:)`);
    } else if ('relationship' in a) {
      if (!actors.has(a.relationship.from)) add([...path, 'relationship', 'from'], `unknown character "${a.relationship.from}"`);
      if (!actors.has(a.relationship.to)) add([...path, 'relationship', 'to'], `unknown character "${a.relationship.to}"`);
    } else if ('emotionalRegister' in a) {
      if (!characters.has(a.emotionalRegister.character)) add([...path, 'emotionalRegister', 'character'], `unknown character "${a.emotionalRegister.character}"`);
    } else if ('settingFeature' in a) {
      if (!story.settings.some((s) => s.features.includes(a.settingFeature))) add([...path, 'settingFeature'], `no setting has the feature "${a.settingFeature}"`);
    }
  }

  function checkPredicate(p: TriggerPredicate, path: (string | number)[]): void {
    if ('all' in p) p.all.forEach((q, i) => checkPredicate(q, [...path, 'all', i]));
    else if ('any' in p) p.any.forEach((q, i) => checkPredicate(q, [...path, 'any', i]));
    else if ('not' in p) checkPredicate(p.not, [...path, 'not']);
    else if ('difference' in p) {
      checkPredicate(p.difference.include, [...path, 'difference', 'include']);
      checkPredicate(p.difference.exclude, [...path, 'difference', 'exclude']);
    } else if ('threshold' in p) {
      p.threshold.of.forEach((q, i) => checkPredicate(q, [...path, 'threshold', 'of', i]));
      if (p.threshold.minMatch > p.threshold.of.length) add([...path, 'threshold', 'minMatch'], `minMatch ${p.threshold.minMatch} exceeds the ${p.threshold.of.length} predicates`);
    } else if ('after' in p) {
      checkPattern(p.after.event, [...path, 'after', 'event']);
      checkPredicate(p.after.then, [...path, 'after', 'then']);
    } else if ('since' in p) {
      checkPattern(p.since.event, [...path, 'since', 'event']);
      checkPredicate(p.since.holds, [...path, 'since', 'holds']);
    } else if ('sequence' in p) p.sequence.events.forEach((e, i) => checkPattern(e, [...path, 'sequence', 'events', i]));
    else checkAtom(p, path);
  }
}

function duplicates(ids: string[], path: (string | number)[], kind: string, add: (path: (string | number)[], message: string) => void): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) add(path, `duplicate ${kind} id "${id}"`);
    seen.add(id);
  }
}
