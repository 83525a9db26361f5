/**
 * @internal IIFE build only (the ESM build never includes this module). A page that loads
 * `sealed-rpc.iife.js` from a plain <script> cannot load chunks, so the code only some pages
 * need is built into classic-script files next to it, fetched on first use:
 *
 * - `sealed-rpc.fallback.iife.js`: the pure-JS crypto (AES-GCM/CBC, SHA-256, HMAC, HKDF,
 *   P-256) for pages without `crypto.subtle` (http:, file: web views);
 * - `sealed-rpc.unzip.iife.js`: the unzipper of offline packages (fflate).
 *
 * Each file, when it runs, puts its modules on one global (see fallback.iife.ts,
 * unzip-entry.iife.ts). Their URL is resolved against the URL of sealed-rpc.iife.js itself
 * (`document.currentScript` when this bundle runs), or against the folder given to
 * `SealedRpc.setAssetBase(url)`. One load per file at a time; a failed load (or one with no
 * answer in 30 s) is a typed RpcError and is tried again by the next call that needs the file.
 */
import { RpcError, badConfig, type RpcErrorCode } from '../errors.js';
import { BUILD_ID } from './build-id.iife.js';

interface Asset {
  /** File name in dist/, next to sealed-rpc.iife.js. */
  file: string;
  /** The global the file defines when it runs. */
  global: string;
  /** What is in it, for the error message. */
  what: string;
  code: RpcErrorCode;
}

/** @internal */
export const ASSETS = {
  fallback: { file: 'sealed-rpc.fallback.iife.js', global: '__sealedRpcFallback', what: 'the pure-JS crypto for pages without crypto.subtle', code: 'CRYPTO_UNAVAILABLE' },
  unzip: { file: 'sealed-rpc.unzip.iife.js', global: '__sealedRpcUnzip', what: 'the offline-package unzipper', code: 'NETWORK' },
} satisfies Record<string, Asset>;

type Global = Record<string, unknown> & { document?: Document; location?: Location; importScripts?: (...urls: string[]) => void };
const g = globalThis as unknown as Global;

// Read while this bundle runs: document.currentScript is the <script> that loaded it only then.
const own = g.document?.currentScript as HTMLScriptElement | null | undefined;
const nonce = own?.nonce || undefined;
/**
 * Where the on-demand files are: the URL of sealed-rpc.iife.js; in a classic worker, the worker
 * script's (importScripts leaves no trace of where it found the bundle: setAssetBase says).
 */
let base: string | undefined = own ? own.src || undefined : !g.document && typeof g.importScripts === 'function' ? g.location?.href : undefined;

/**
 * Where `SealedRpc` finds its on-demand files (`sealed-rpc.fallback.iife.js`,
 * `sealed-rpc.unzip.iife.js`): the URL of the folder holding them, absolute or relative to
 * the page. By default, the folder `sealed-rpc.iife.js` was loaded from (in a classic worker,
 * the worker script's folder). Needed only where the files are elsewhere, or where the bundle
 * was inlined or injected (no script URL). A URL with `user:password@` is refused.
 * IIFE bundle only: the ESM build loads its chunks with import().
 */
export function setAssetBase(url: string): void {
  if (typeof url !== 'string' || url === '') throw badConfig('setAssetBase', 'expected the URL of the folder holding sealed-rpc.iife.js and its on-demand files');
  let folder: URL;
  try {
    // Resolved now: a later history.pushState must not move it.
    folder = new URL(url, g.document?.baseURI ?? g.location?.href);
  } catch (e) {
    throw new RpcError('BAD_CONFIG', `setAssetBase: not a URL: ${JSON.stringify(url)}`, { details: { option: 'setAssetBase' }, cause: e });
  }
  // Browsers never fetch a script from a URL with user:password@, and the URL would go into error messages.
  if (folder.username || folder.password) throw badConfig('setAssetBase', 'must not hold a user name or password (user:pass@)');
  // A folder: `…/1.4.0?v=7` is the folder 1.4.0 (appending "/" to the text would make `v=7/` its last part).
  if (!folder.pathname.endsWith('/')) folder.pathname += '/';
  // `data://host/` resolves files like a folder, yet a script from it is never fetched: refused by scheme too.
  if (NOT_FOLDERS.has(folder.protocol) || fileUrl(ASSETS.fallback.file, folder.href) === undefined) {
    throw badConfig('setAssetBase', `${JSON.stringify(url)} cannot hold files (data:, javascript:, blob: and about: URLs cannot); give the URL of the folder holding the files`);
  }
  base = folder.href;
}

/** Schemes whose URLs never name a folder of files (resolving against them fails, except written as `data://host/`). */
const NOT_FOLDERS = new Set(['data:', 'javascript:', 'blob:', 'about:']);

/**
 * The URL of `file` in the folder `folder`, or undefined where files cannot be resolved against
 * it (a blob: or data: URL). Over http(s), asked for as this build's (`?v=<build id>`): no cache
 * serves another build's file under that URL (file: URLs have no cache, and some web views'
 * asset loaders take no query).
 */
function fileUrl(file: string, folder: string): string | undefined {
  try {
    const url = new URL(file, folder);
    if (BUILD_ID && /^https?:$/.test(url.protocol)) url.search = `v=${BUILD_ID}`;
    return url.href;
  } catch {
    return undefined;
  }
}

/** How long one on-demand file may take: past it the load is given up, so the next call tries again. */
const LOAD_TIMEOUT_MS = 30_000;

const loading = new Map<string, Promise<unknown>>();

/** @internal The modules of an on-demand file, `valid` checking their shape; fetched once. */
export function loadAsset<T>(asset: Asset, valid: (m: T) => boolean): Promise<T> {
  // Only this build's modules: another build's (a stale copy, another version) may differ inside.
  const ready = () => {
    const m = g[asset.global] as (T & { build?: unknown }) | undefined;
    return m && m.build === BUILD_ID && valid(m) ? m : undefined;
  };
  const m = ready();
  if (m) return Promise.resolve(m); // already there (the page may load the file itself)
  let p = loading.get(asset.file) as Promise<T> | undefined;
  if (!p) {
    // (A classic worker started from a blob: URL has a base no file can be resolved against: as unknown.)
    const url = base === undefined ? undefined : fileUrl(asset.file, base);
    const canRun = !!g.document || typeof g.importScripts === 'function';
    p = (async () => {
      if (!canRun) throw new Error('there is no document (for a <script>) and no importScripts here');
      if (url === undefined) throw new Error(`the URL of sealed-rpc.iife.js is unknown (the bundle was inlined or injected, not loaded by <script src>${base === undefined ? '' : `, or loaded from ${base}`})`);
      await run(url);
      const m = ready();
      if (m) return m;
      const found = g[asset.global] as { build?: unknown } | undefined;
      throw new Error(
        found
          ? `it is another build of sealed-rpc (${typeof found.build === 'string' && found.build ? found.build : 'an older one'}; sealed-rpc.iife.js is ${BUILD_ID || 'unstamped'}): serve the files of one build together`
          : `it ran but did not define ${asset.global} (not that file)`,
      );
    })().catch((e: unknown) => {
      loading.delete(asset.file); // the next call tries again
      // Offline the file is not missing: advice to deploy it would send people the wrong way, and a later call (online) loads it.
      const offline = (g.navigator as { onLine?: unknown } | undefined)?.onLine === false;
      throw new RpcError(asset.code, `${asset.file} (${asset.what}) could not be loaded${url ? ` from ${url}` : ''}${offline ? ' while the device is offline' : ''}: ${e instanceof Error ? e.message : String(e)}`, {
        ...(offline ? { retryable: true } : {}),
        hint: offline
          ? `The device is offline, so ${asset.file} could not be fetched; try again once it is back online (the next call fetches it again).`
          : canRun
            ? g.document
              ? `Serve ${asset.file} from the folder of sealed-rpc.iife.js (it is built next to it in dist/), or call SealedRpc.setAssetBase('<URL of the folder holding it>') before the first call.`
              : `In a worker the file is looked for next to the worker script: serve it there, or call SealedRpc.setAssetBase('<URL of the folder holding sealed-rpc.iife.js>') in the worker before the first call.`
            : `Run ${asset.file} in this context before the first call (it defines ${asset.global}), or use the ESM build (import from 'sealed-rpc'), which loads its own chunks.`,
        details: url ? { file: asset.file, url } : { file: asset.file },
        cause: e,
      });
    });
    loading.set(asset.file, p);
  }
  return p;
}

/**
 * Run a classic script: a <script> element in a page, importScripts in a classic worker.
 * Nothing else can (a module worker or Node should use the ESM build, whose chunks load with
 * import()); there is no import() here on purpose: a classic script that contains one is
 * rewritten as a module by dev servers (Vite's import analysis), which breaks it.
 */
function run(url: string): Promise<void> {
  const doc = g.document;
  if (doc) {
    return new Promise<void>((resolve, reject) => {
      const s = doc.createElement('script');
      const done = (error?: Error) => {
        clearTimeout(timer);
        s.onload = s.onerror = null;
        s.remove();
        if (error) reject(error);
        else resolve();
      };
      // A request the server accepts and never answers fires neither event: without a bound,
      // every later use would wait on it and none would try again.
      const timer = setTimeout(() => done(new Error(`no answer in ${LOAD_TIMEOUT_MS / 1000} s`)), LOAD_TIMEOUT_MS);
      s.src = url;
      if (nonce) s.nonce = nonce;
      s.onload = () => done();
      s.onerror = () => done(new Error('the <script> failed (HTTP error, blocked, or offline)'));
      (doc.head ?? doc.documentElement).appendChild(s);
    });
  }
  return runInWorker(url);
}

/**
 * A classic worker (loadAsset checked). importScripts is synchronous and unbounded: a server that
 * never answers would freeze the whole worker. So the file is fetched first, bounded as a <script>
 * is, and its text run from a blob: URL; where that cannot be (no fetch, a file: URL, no CORS on
 * another origin, a CSP refusing blob:) importScripts(url) runs it directly.
 */
async function runInWorker(url: string): Promise<void> {
  const direct = () => void g.importScripts!(url); // throws when the fetch or the script fails
  if (typeof fetch !== 'function' || typeof Blob !== 'function' || typeof URL.createObjectURL !== 'function' || !/^https?:/.test(url)) return direct();
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), LOAD_TIMEOUT_MS);
  let text: string;
  try {
    const res = await fetch(url, { signal: ctrl.signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    text = await res.text();
  } catch (e) {
    if (ctrl.signal.aborted) throw new Error(`no answer in ${LOAD_TIMEOUT_MS / 1000} s`);
    if (e instanceof Error && /^HTTP \d+$/.test(e.message)) throw e;
    return direct(); // (another origin without CORS: importScripts needs none)
  } finally {
    clearTimeout(timer);
  }
  const blob = URL.createObjectURL(new Blob([text, `\n//# sourceURL=${url}\n`], { type: 'text/javascript' }));
  try {
    g.importScripts!(blob);
  } catch (e) {
    if ((e as { name?: string })?.name !== 'NetworkError') throw e;
    direct(); // (a CSP without blob:)
  } finally {
    URL.revokeObjectURL(blob);
  }
}
