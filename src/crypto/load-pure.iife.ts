/**
 * @internal The IIFE build's load-pure.ts (swapped in by vite.config.ts): the pure-JS
 * engines come from sealed-rpc.fallback.iife.js, a classic script fetched on first use
 * (pages with crypto.subtle never fetch it). A failed load is RpcError CRYPTO_UNAVAILABLE.
 */
import { ASSETS, loadAsset } from './load-script.js';
import type { Fallback } from './fallback.iife.js';

const fallback = () => loadAsset<Fallback>(ASSETS.fallback, (m) => typeof m.pure?.gcm === 'function' && typeof m.pureEc?.p256?.getPublicKey === 'function');
export const loadPure = (): Promise<Fallback['pure']> => fallback().then((m) => m.pure);
export const loadPureEc = (): Promise<Fallback['pureEc']> => fallback().then((m) => m.pureEc);
