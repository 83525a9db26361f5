/**
 * @internal fflate's streaming Inflate for zip.ts. ESM/Node: imported statically (tree-shaken
 * away by apps that never verify a package). The IIFE build swaps this module for
 * unzip.iife.ts (see vite.config.ts), which loads it from sealed-rpc.unzip.iife.js on first use.
 */
import { Inflate } from 'fflate';

export const loadUnzip = (): Promise<typeof Inflate> => Promise.resolve(Inflate);
