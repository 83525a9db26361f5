/**
 * @internal The IIFE build's unzip.ts (swapped in by vite.config.ts): fflate's Inflate comes
 * from sealed-rpc.unzip.iife.js, a classic script fetched the first time a package is unzipped.
 * A failed load is RpcError NETWORK naming the file.
 */
import { ASSETS, loadAsset } from '../crypto/load-script.js';
import type { Unzip } from './unzip-entry.iife.js';

export const loadUnzip = (): Promise<Unzip['Inflate']> => loadAsset<Unzip>(ASSETS.unzip, (m) => typeof m.Inflate === 'function').then((m) => m.Inflate);
