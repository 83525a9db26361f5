/**
 * Entry of the IIFE bundle (dist/sealed-rpc.iife.js, global `SealedRpc`): the public API of
 * the client entry, plus `setAssetBase` and `preloadAssets` for the on-demand files that
 * bundle loads (see crypto/load-script.ts). The ESM entry is index.ts.
 */
import { loadPure } from './crypto/load-pure.js';
import { subtle } from './crypto/provider.js';
import { badConfig } from './errors.js';
import { loadUnzip } from './package/unzip.js';

export * from './index.js';
export { setAssetBase } from './crypto/load-script.js';

export type AssetName = 'unzip' | 'fallback';

/**
 * Fetch on-demand files now, while the page is online, instead of at first use: `'unzip'`
 * (offline packages: `verifyPackage` then needs no network at all) and `'fallback'` (the
 * pure-JS crypto). With no names: `'unzip'`, plus `'fallback'` where `crypto.subtle` is
 * missing (name `'fallback'` where an AES-192 key is used: WebCrypto refuses those, so they
 * run on the pure-JS path too). Resolves once they ran; rejects with the load's RpcError (a
 * later use retries).
 */
export async function preloadAssets(...names: AssetName[]): Promise<void> {
  const wanted: AssetName[] = names.length ? names : subtle() ? ['unzip'] : ['unzip', 'fallback'];
  for (const n of wanted) if (n !== 'unzip' && n !== 'fallback') throw badConfig('preloadAssets', `expected 'unzip' or 'fallback', got ${JSON.stringify(n)}`);
  await Promise.all(wanted.map((n) => (n === 'unzip' ? loadUnzip() : loadPure())));
}
