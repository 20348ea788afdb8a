import type { ErrorType, StepHandlerResult } from '../contract.ts';
import type { Database } from '../../persistence/database.ts';
import type { GraphStore } from '../../persistence/graph/graph-store.ts';

/**
 * Tasker's TypeScript worker shape (contract §5, `@tasker-systems/tasker` src/handler/base.ts),
 * defined here because the package is not on the npm registry: a class per step with
 * `static handlerName` equal to the template's `handler.callable`, and `call(ctx)`.
 */
export interface StepContext {
  taskUuid: string;
  stepUuid: string;
  correlationId: string;
  handlerName: string;
  /** The task context. */
  inputData: Record<string, unknown>;
  /** Step name → the dependency's result envelope (`{ result, success, … }`). */
  dependencyResults: Record<string, { result: unknown; success: boolean }>;
  /** The handler's `initialization`. */
  stepConfig: Record<string, unknown>;
  /** = workflow_step.attempts (counted at the claim, so the first run sees 1). */
  retryCount: number;
  maxRetries: number;
}

/** What the scene-boundary handlers run against: the storyteller database and graph. */
export interface StepDeps {
  db: Database;
  graph: GraphStore | null;
}

export abstract class StepHandler {
  static handlerName: string;
  static handlerVersion = '1.0.0';
  protected readonly deps: StepDeps;

  constructor(deps: StepDeps) {
    this.deps = deps;
  }

  abstract call(ctx: StepContext): Promise<StepHandlerResult>;

  protected success(result: Record<string, unknown>, metadata: Record<string, unknown> = {}): StepHandlerResult {
    return { success: true, result, errorMessage: null, errorType: null, errorCode: null, retryable: true, metadata };
  }

  protected failure(message: string, errorType: ErrorType = 'handler_error', retryable = true, metadata: Record<string, unknown> = {}, errorCode: string | null = null): StepHandlerResult {
    return { success: false, result: null, errorMessage: message, errorType, errorCode, retryable, metadata };
  }
}

export type StepHandlerClass = (new (deps: StepDeps) => StepHandler) & { handlerName: string };

/** `getDependencyResult` of the worker package: unwraps `.result`. */
export function dependencyResult<T>(ctx: StepContext, step: string): T | null {
  const envelope = ctx.dependencyResults[step];
  return envelope ? (envelope.result as T) : null;
}
