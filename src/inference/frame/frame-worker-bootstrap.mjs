// Worker entry when running from TypeScript sources (tsx, vitest): a worker thread does
// not inherit its parent's module loader, so register tsx's ESM hooks here, then load
// the real worker. Compiled builds start frame-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./frame-worker.ts');
