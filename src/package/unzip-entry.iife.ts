/**
 * @internal Entry of dist/sealed-rpc.unzip.iife.js (a classic script, see vite.config.ts):
 * fflate's streaming Inflate for the IIFE bundle, on the global that load-script.ts
 * `ASSETS.unzip` names. Never part of the ESM build.
 */
import { Inflate } from 'fflate';

export interface Unzip {
  Inflate: typeof Inflate;
}

(globalThis as Record<string, unknown>).__sealedRpcUnzip = { Inflate } satisfies Unzip;
