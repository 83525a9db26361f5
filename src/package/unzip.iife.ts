/**
 * @internal The IIFE build's unzip.ts (swapped in by vite.config.ts): the zip reader comes
 * from sealed-rpc.unzip.iife.js, a classic script fetched the first time a package is unzipped.
 * A failed load is RpcError NETWORK naming the file.
 */
import { ASSETS, loadAsset } from '../crypto/load-script.js';
import type { Unzipper } from './unzip.js';

export const loadUnzip = (): Promise<Unzipper> => loadAsset<Unzipper>(ASSETS.unzip, (m) => typeof m.readZipEntries === 'function' && typeof m.readZipEntry === 'function');
