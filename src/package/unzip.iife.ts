/**
 * @internal The IIFE build's unzip.ts (swapped in by vite.config.ts): fflate comes from
 * sealed-rpc.unzip.iife.js, a classic script fetched the first time a package is unzipped.
 * A failed load is RpcError NETWORK naming the file.
 */
import { ASSETS, loadAsset } from '../crypto/load-script.js';
import type { Unzip } from './unzip-entry.iife.js';

export const loadUnzip = (): Promise<Unzip['unzipSync']> => loadAsset<Unzip>(ASSETS.unzip, (m) => typeof m.unzipSync === 'function').then((m) => m.unzipSync);
