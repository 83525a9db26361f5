/**
 * @internal IIFE builds only: one id per build of the three classic-script files (a hash of the
 * sources, set by vite.config.ts). sealed-rpc.iife.js asks for its on-demand files with
 * `?v=<id>`, so no cache serves another build's file, and refuses a file of another build.
 */
declare const __SEALED_RPC_BUILD__: string | undefined;

export const BUILD_ID: string = typeof __SEALED_RPC_BUILD__ === 'string' ? __SEALED_RPC_BUILD__ : '';
