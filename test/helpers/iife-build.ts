/**
 * The build id the built IIFE files carry (vite.config.ts `iifeBuildId`), read from the built
 * unzipper itself: sealed-rpc.iife.js asks for its on-demand files as `<file>?v=<id>`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';

export const DIST_BUILD_ID: string = (() => {
  const sandbox: Record<string, any> = { TextDecoder, TextEncoder };
  sandbox.globalThis = sandbox;
  runInNewContext(readFileSync(fileURLToPath(new URL('../../dist/sealed-rpc.unzip.iife.js', import.meta.url)), 'utf8'), sandbox);
  const id = sandbox.__sealedRpcUnzip?.build;
  if (typeof id !== 'string' || !/^[0-9a-f]{12}$/.test(id)) throw new Error(`dist/sealed-rpc.unzip.iife.js carries no build id (${String(id)}): run npm run build`);
  return id;
})();

/** `url` as the IIFE asks for an on-demand file: with this build's `?v=`. */
export const versioned = (url: string): string => `${url}?v=${DIST_BUILD_ID}`;
