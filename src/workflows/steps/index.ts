import { CheckpointDeferred } from './checkpoint-deferred.ts';
import { DeferredEventResolution } from './deferred-event-resolution.ts';
import { NarrativeGraphUpdate } from './narrative-graph-update.ts';
import { OffscreenPropagation } from './offscreen-propagation.ts';
import { SocialGraphRipple } from './social-graph-ripple.ts';
import type { StepHandlerClass } from './step-handler.ts';
import { WorldStateUpdate } from './world-state-update.ts';

/** Every scene-boundary handler, registered by `handlerName` (= the template's callable). */
export const SCENE_BOUNDARY_HANDLERS: readonly StepHandlerClass[] = [
  DeferredEventResolution,
  OffscreenPropagation,
  SocialGraphRipple,
  WorldStateUpdate,
  NarrativeGraphUpdate,
  CheckpointDeferred,
];
