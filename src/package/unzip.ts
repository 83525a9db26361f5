/**
 * @internal The zip reader (zip.ts, with fflate's Inflate) for verify.ts. ESM/Node: imported
 * statically (tree-shaken away by apps that never verify a package). The IIFE build swaps
 * this module for unzip.iife.ts (see vite.config.ts), which loads it from
 * sealed-rpc.unzip.iife.js on first use.
 */
import { readZipEntries, readZipEntry } from './zip.js';

export interface Unzipper {
  readZipEntries: typeof readZipEntries;
  readZipEntry: typeof readZipEntry;
}

export const loadUnzip = (): Promise<Unzipper> => Promise.resolve({ readZipEntries, readZipEntry });
