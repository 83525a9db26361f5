/**
 * Entry of the IIFE bundle (dist/sealed-rpc.iife.js, global `SealedRpc`): the public API of
 * the client entry, plus `setAssetBase` for the on-demand files that bundle loads (see
 * crypto/load-script.ts). The ESM entry is index.ts.
 */
export * from './index.js';
export { setAssetBase } from './crypto/load-script.js';
