/** Runtime state kept under `gateway.state`, surviving restarts and reloads: the lockdown. */
export {
  createLockdownRoute,
  createLockdownStore,
  LOCKDOWN_FILE,
  LockdownFileSchema,
  lockdownJson,
  LockdownRequestSchema,
  LockdownStateError,
  readLockdownFile,
} from './lockdown-store.js';
export type { LockdownPrincipal, LockdownRequest, LockdownRouteOptions, LockdownStore } from './lockdown-store.js';
