/**
 * @internal Entry of dist/sealed-rpc.fallback.iife.js (a classic script, see vite.config.ts):
 * the pure-JS engines of pure.ts and pure-ec.ts for the IIFE bundle, on the global that
 * load-script.ts `ASSETS.fallback` names. Never part of the ESM build.
 */
import { BUILD_ID } from './build-id.iife.js';
import * as pure from './pure.js';
import * as pureEc from './pure-ec.js';

export interface Fallback {
  pure: typeof pure;
  pureEc: typeof pureEc;
  build: string;
}

(globalThis as Record<string, unknown>).__sealedRpcFallback = { pure, pureEc, build: BUILD_ID } satisfies Fallback;
