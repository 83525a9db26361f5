/**
 * @internal How provider.ts `pure()` / `pureEc()` load the pure-JS engines. This is the ESM
 * (and Node) version: `import()` chunks. The IIFE build swaps this module for
 * load-pure.iife.ts (see vite.config.ts), which loads them from sealed-rpc.fallback.iife.js.
 */
export const loadPure = (): Promise<typeof import('./pure.js')> => import('./pure.js');
export const loadPureEc = (): Promise<typeof import('./pure-ec.js')> => import('./pure-ec.js');
