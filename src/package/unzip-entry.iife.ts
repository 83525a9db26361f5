/**
 * @internal Entry of dist/sealed-rpc.unzip.iife.js (a classic script, see vite.config.ts): the
 * zip reader (zip.ts, with fflate's Inflate) for the IIFE bundle, on the global that
 * load-script.ts `ASSETS.unzip` names. Never part of the ESM build.
 */
import { BUILD_ID } from '../crypto/build-id.iife.js';
import { readZipEntries, readZipEntry } from './zip.js';
import type { Unzipper } from './unzip.js';

(globalThis as Record<string, unknown>).__sealedRpcUnzip = { readZipEntries, readZipEntry, build: BUILD_ID } satisfies Unzipper & { build: string };
