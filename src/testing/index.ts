/**
 * Testing kit for the storyteller session runtime (issue 3 §6). Import from
 * `storyteller-runtime/testing` (src/testing/index.ts).
 */
export { TestingKit, TestSession, type TestingKitOptions, type AnswerRecord } from './testing-kit.ts';
export { createMinimalBehaviour, sceneUuid, MINIMAL_SCENES, type MinimalScene, type MinimalBehaviourOptions, type MemberFault } from './minimal-behaviour.ts';
export { CrashableDatabase } from './crashable-database.ts';
export { FAULT_POINTS, FaultPoints, type FaultPoint } from '../engine/fault-points.ts';
