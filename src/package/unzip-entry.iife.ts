/**
 * @internal Entry of dist/sealed-rpc.unzip.iife.js (a classic script, see vite.config.ts):
 * fflate's unzipSync for the IIFE bundle, on the global that load-script.ts `ASSETS.unzip`
 * names. Never part of the ESM build.
 */
import { unzipSync } from 'fflate';

export interface Unzip {
  unzipSync: typeof unzipSync;
}

(globalThis as Record<string, unknown>).__sealedRpcUnzip = { unzipSync } satisfies Unzip;
