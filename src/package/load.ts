/**
 * Download an offline package with progress, verify it, and hand back either its files
 * or the online fallback URL (PROTOCOLS.md §5). Never throws and never returns bytes
 * that did not verify: a page that gets `ok: false` loads from `fallbackUrl` instead.
 */
import { RpcError, badConfig, refuseUnknownOptions } from '../errors.js';
import { concatBytes } from '../codec/bytes.js';
import { verifyOptions, verifyPackage, type VerifyPackageOptions } from './verify.js';
import { importRsaKey, type RsaHash } from '../crypto/rsa.js';

export interface LoadPackageOptions {
  /** PEM public key the package must verify with. */
  publicKey: string;
  /** Default 'SHA-256'; 'SHA-1' for the container's legacy packages. */
  hash?: RsaHash;
  /** Refuse a package that unpacks to more than this (default 128 MiB; see verifyPackage). */
  maxUnpackedBytes?: number;
  /** Files the package must hold (see verifyPackage). */
  requiredFiles?: readonly string[];
  /** Stop a download past this many bytes (default 256 MiB): PACKAGE_SIGNATURE_INVALID naming `(package)`. A signature file is capped at 64 KiB. */
  maxDownloadBytes?: number;
  /** URL of a detached signature over the whole file (raw bytes or base64 text). */
  signatureUrl?: string;
  /** A detached signature given directly (raw bytes or base64 / base64url text). */
  signature?: string | Uint8Array;
  /** The online page to load when the package cannot be used; echoed back on failure. */
  fallbackUrl: string;
  /** Download progress in bytes; `total` is 0 while unknown. The last call has loaded === total. */
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
}

export type LoadPackageResult =
  | { ok: true; files: Record<string, Uint8Array> }
  | { ok: false; fallbackUrl: string; error: RpcError };

const DEFAULT_MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024;
/** An RSA-8192 signature as base64 text is ~1.4 KB; anything near this is not a signature. */
const MAX_SIGNATURE_BYTES = 64 * 1024;

function tooLarge(what: string, max: number): RpcError {
  return new RpcError('PACKAGE_SIGNATURE_INVALID', `offline package: ${what}: larger than ${max} bytes, not downloaded further`, { details: { file: what } });
}

function aborted(signal: AbortSignal | undefined): RpcError {
  return new RpcError('ABORTED', 'offline package download aborted', signal?.reason === undefined ? {} : { cause: signal.reason });
}

function toRpcError(e: unknown, signal: AbortSignal | undefined): RpcError {
  if (signal?.aborted) return aborted(signal);
  if (e instanceof RpcError) return e;
  if (e instanceof Error && e.name === 'AbortError') return aborted(signal);
  // Not the default NETWORK hint: that one points at the gateway, and a package often comes from a CDN.
  return new RpcError('NETWORK', 'offline package download failed', { cause: e, hint: "Check the package URL and, cross-origin, the CORS headers of the package's server." });
}

/** A progress UI bug must not cost the package, so its exceptions are dropped. */
function report(cb: LoadPackageOptions['onProgress'], loaded: number, total: number): void {
  if (!cb) return;
  try {
    cb(loaded, total);
  } catch {
    /* ignored on purpose */
  }
}

async function download(
  f: typeof fetch,
  url: string,
  signal: AbortSignal | undefined,
  max: number,
  what: string,
  onProgress?: LoadPackageOptions['onProgress'],
): Promise<Uint8Array> {
  const res = await f(url, signal ? { signal } : {});
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    // No URL in the error: package URLs often carry signed CDN tokens.
    throw new RpcError('HTTP_STATUS', `offline package download: HTTP ${res.status}`, { status: res.status });
  }
  const declared = Number(res.headers.get('content-length'));
  let total = Number.isFinite(declared) && declared > 0 ? declared : 0;
  if (total > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(what, max);
  }
  if (!res.body) {
    const all = new Uint8Array(await res.arrayBuffer());
    if (all.length > max) throw tooLarge(what, max);
    report(onProgress, all.length, all.length);
    return all;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  report(onProgress, 0, total);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      if (loaded > max) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(what, max);
      }
      // A compressed transfer can deliver more than Content-Length declared.
      if (loaded > total && total !== 0) total = loaded;
      report(onProgress, loaded, total);
    }
  } finally {
    reader.releaseLock();
  }
  if (signal?.aborted) throw aborted(signal);
  if (total !== loaded) report(onProgress, loaded, loaded); // unknown length: now known, 100 %
  return concatBytes(...chunks);
}

export async function loadPackage(url: string, opts: LoadPackageOptions): Promise<LoadPackageResult> {
  const fallbackUrl = opts?.fallbackUrl;
  const signal = opts?.signal;
  try {
    if (!opts || typeof opts !== 'object') throw badConfig('options', 'loadPackage needs an options object with publicKey and fallbackUrl');
    if (typeof fallbackUrl !== 'string') throw badConfig('fallbackUrl', 'expected the URL of the online page to load when the package cannot be used');
    refuseUnknownOptions(opts, ['publicKey', 'hash', 'maxUnpackedBytes', 'requiredFiles', 'maxDownloadBytes', 'signatureUrl', 'signature', 'fallbackUrl', 'onProgress', 'signal', 'fetch'], 'loadPackage');
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw badConfig('onProgress', 'must be a function (loaded, total) => void');
    if (opts.signatureUrl !== undefined && typeof opts.signatureUrl !== 'string') throw badConfig('signatureUrl', 'must be the URL of the detached signature');
    // The signature itself (an RSA-1024 one is 172 base64 characters) would be fetched as a relative URL.
    if (/^[A-Za-z0-9+/_-]{128,}={0,2}$/.test(opts.signatureUrl?.trim() ?? '')) throw badConfig('signatureUrl', 'is a signature, not its URL: give it as signature');
    // Two signatures for one package: which one is meant cannot be guessed.
    if (opts.signatureUrl !== undefined && opts.signature !== undefined) throw badConfig('signatureUrl', 'give signatureUrl or signature, not both');
    if (signal?.aborted) throw aborted(signal);
    const f = opts.fetch ?? globalThis.fetch;
    const maxDownloadBytes = opts.maxDownloadBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
    if (!(Number.isSafeInteger(maxDownloadBytes) && maxDownloadBytes > 0)) throw badConfig('maxDownloadBytes', 'must be a positive whole number of bytes');
    if (typeof f !== 'function') throw new RpcError('BAD_CONFIG', 'fetch: no fetch implementation available', { details: { option: 'fetch' } });
    const checks: VerifyPackageOptions = {
      publicKey: opts.publicKey,
      ...(opts.hash !== undefined ? { hash: opts.hash } : {}),
      ...(opts.maxUnpackedBytes !== undefined ? { maxUnpackedBytes: opts.maxUnpackedBytes } : {}),
      ...(opts.requiredFiles !== undefined ? { requiredFiles: opts.requiredFiles } : {}),
    };
    // A mistake in the options is reported before anything is downloaded.
    const { hash } = verifyOptions({ ...checks, ...(opts.signature !== undefined ? { signature: opts.signature } : {}) });
    await importRsaKey(opts.publicKey, 'public', hash, 'publicKey'); // (cached: verifyPackage's import is then free)
    // The small signature first: when it is missing, the big download is not wasted.
    const signature =
      opts.signatureUrl !== undefined ? await download(f, opts.signatureUrl, signal, MAX_SIGNATURE_BYTES, '(signature)') : opts.signature;
    const bytes = await download(f, url, signal, maxDownloadBytes, '(package)', opts.onProgress);
    if (signal?.aborted) throw aborted(signal);
    const { files } = await verifyPackage(bytes, { ...checks, ...(signature !== undefined ? { signature } : {}) });
    if (signal?.aborted) throw aborted(signal); // (aborted while the signatures were checked)
    return { ok: true, files };
  } catch (e) {
    return { ok: false, fallbackUrl, error: toRpcError(e, signal) };
  }
}
