/**
 * The built IIFE's on-demand files (src/crypto/load-script.ts), run in node:vm with a stand-in
 * document whose injected <script>s the test answers: loads that never answer, folders given
 * to setAssetBase, a classic worker started from a blob: URL. `npm test` builds dist/ first.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DIST_BUILD_ID, versioned } from '../helpers/iife-build.js';

const dist = (f: string) => fileURLToPath(new URL(`../../dist/${f}`, import.meta.url));
const FALLBACK = 'sealed-rpc.fallback.iife.js';
const IIFE = readFileSync(dist('sealed-rpc.iife.js'), 'utf8');
const FALLBACK_SRC = readFileSync(dist(FALLBACK), 'utf8');
const UNZIP_SRC = readFileSync(dist('sealed-rpc.unzip.iife.js'), 'utf8');
/** The bound load-script.ts gives one load. */
const LOAD_TIMEOUT_MS = 30_000;

/** How the stand-in network answers an injected <script>: run the file, 404, or never answer. */
type Answer = 'run' | 'error' | 'hang';

/**
 * A page without crypto.subtle that loaded the IIFE from `src`. Timers of LOAD_TIMEOUT_MS or
 * more are held (`fireLongTimers` runs them), so a 30 s bound is tested without waiting 30 s.
 */
function page(src: string | undefined, answer: () => Answer, fallbackSrc: () => string = () => FALLBACK_SRC) {
  const injected: string[] = [];
  const long = new Set<{ run: () => void }>();
  const sandbox: Record<string, any> = {
    crypto: { getRandomValues: (a: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(a) },
    TextEncoder, TextDecoder, EventTarget, CustomEvent, AbortController, AbortSignal, URL, URLSearchParams, DOMException,
    setTimeout: (f: () => void, ms = 0) => {
      if (ms < LOAD_TIMEOUT_MS) return setTimeout(f, ms);
      const t = { run: f };
      long.add(t);
      return t;
    },
    clearTimeout: (t: unknown) => (t && typeof t === 'object' && 'run' in t ? long.delete(t as { run: () => void }) : clearTimeout(t as NodeJS.Timeout)),
  };
  sandbox.globalThis = sandbox;
  sandbox.self = sandbox;
  sandbox.window = sandbox;
  const head = {
    appendChild(s: { src: string; onload?: () => void; onerror?: () => void }) {
      injected.push(s.src);
      const a = answer();
      setTimeout(() => {
        if (a === 'run') {
          runInNewContext(s.src.split('?')[0]!.endsWith(FALLBACK) ? fallbackSrc() : UNZIP_SRC, sandbox);
          s.onload?.();
        } else if (a === 'error') s.onerror?.();
      }, 5);
      return s;
    },
  };
  sandbox.document = {
    currentScript: src === undefined ? null : { src, nonce: '' },
    baseURI: 'https://app.example/pages/index.html',
    head,
    documentElement: head,
    createElement: () => ({ src: '', nonce: '', onload: null, onerror: null, remove() {} }),
  };
  runInNewContext(IIFE, sandbox);
  sandbox.document.currentScript = null; // (as after the bundle ran)
  const fireLongTimers = () => {
    for (const t of [...long]) {
      long.delete(t);
      t.run();
    }
  };
  return { S: sandbox.SealedRpc as Record<string, any>, injected, fireLongTimers };
}

describe('the IIFE on-demand files', () => {
  it('a load that never answers (neither load nor error) is given up at 30 s as CRYPTO_UNAVAILABLE, and the next use injects the file again and succeeds', async () => {
    let answer: Answer = 'hang';
    const { S, injected, fireLongTimers } = page('https://cdn.example/sdk/sealed-rpc.iife.js', () => answer);
    const first = S.preloadAssets('fallback').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    fireLongTimers();
    const e = await first;
    expect(e).toBeInstanceOf(S.RpcError);
    expect(e.code).toBe('CRYPTO_UNAVAILABLE');
    expect(e.message).toContain('no answer in 30 s');
    expect(e.hint).toMatch(/setAssetBase/);
    answer = 'run';
    await S.preloadAssets('fallback');
    expect(injected).toEqual([versioned(`https://cdn.example/sdk/${FALLBACK}`), versioned(`https://cdn.example/sdk/${FALLBACK}`)]);
  });

  it('setAssetBase refuses a URL that cannot hold files (data:, javascript:, blob:, about:, also written as data://host/) as BAD_CONFIG, and the folder set before stays', async () => {
    const { S, injected } = page('https://cdn.example/sdk/sealed-rpc.iife.js', () => 'run');
    S.setAssetBase('https://static.example/v2/');
    for (const url of ['data:text/javascript,', 'javascript:void 0', 'blob:https://app.example/6f1c2d7e-0000-4000-8000-000000000000', 'data://host/sdk/', 'javascript://x/', 'about:blank']) {
      let thrown: any;
      try {
        S.setAssetBase(url);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, url).toBeInstanceOf(S.RpcError);
      expect(thrown.code).toBe('BAD_CONFIG');
      expect(thrown.details).toEqual({ option: 'setAssetBase' });
      expect(thrown.message).toMatch(/cannot hold files/);
    }
    await S.preloadAssets('fallback');
    expect(injected).toEqual([versioned(`https://static.example/v2/${FALLBACK}`)]);
  });

  it('setAssetBase with a query string, or without a trailing slash: the files are fetched from that folder, not its parent', async () => {
    for (const [given, folder] of [
      ['https://cdn.example/sdk/1.4.0?v=7', 'https://cdn.example/sdk/1.4.0/'],
      ['https://cdn.example/sdk/1.4.0', 'https://cdn.example/sdk/1.4.0/'],
      ['/static/sdk/#top', 'https://app.example/static/sdk/'],
      ['../sdk/', 'https://app.example/sdk/'],
    ]) {
      const { S, injected } = page('https://cdn.example/sdk/sealed-rpc.iife.js', () => 'run');
      S.setAssetBase(given);
      await S.preloadAssets('fallback');
      expect(injected, given).toEqual([versioned(folder + FALLBACK)]);
    }
  });

  it('a classic worker started from a blob: URL, with no setAssetBase: a typed CRYPTO_UNAVAILABLE whose hint names setAssetBase, not a TypeError', async () => {
    let imported = 0;
    const sandbox: Record<string, any> = {
      crypto: { getRandomValues: (a: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(a) },
      TextEncoder, TextDecoder, EventTarget, CustomEvent, AbortController, AbortSignal, URL, URLSearchParams, DOMException, setTimeout, clearTimeout,
      location: { href: 'blob:https://app.example/6f1c2d7e-0000-4000-8000-000000000000' },
      importScripts: () => void imported++,
    };
    sandbox.globalThis = sandbox;
    sandbox.self = sandbox;
    runInNewContext(IIFE, sandbox);
    const S = sandbox.SealedRpc;
    const e = await Promise.resolve()
      .then(() => S.preloadAssets('fallback'))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(S.RpcError);
    expect(e.code).toBe('CRYPTO_UNAVAILABLE');
    expect(e.message).toMatch(/the URL of sealed-rpc\.iife\.js is unknown .*loaded from blob:/);
    expect(e.hint).toMatch(/setAssetBase/);
    expect(imported).toBe(0);
    // Given a folder, the worker loads the file from it.
    S.setAssetBase('https://cdn.example/sdk/');
    sandbox.importScripts = (url: string) => {
      imported++;
      expect(url).toBe(versioned(`https://cdn.example/sdk/${FALLBACK}`));
      runInNewContext(FALLBACK_SRC, sandbox);
    };
    await S.preloadAssets('fallback');
    expect(imported).toBe(1);
  });
  it('an on-demand file is asked for with ?v=<build id> over http(s); one of another build (a stale cache, another version) is refused naming both builds, and the next use takes this build\'s', async () => {
    const other = 'a'.repeat(12);
    const stale = FALLBACK_SRC.replaceAll(DIST_BUILD_ID, other);
    expect(stale).not.toBe(FALLBACK_SRC);
    let src = stale;
    const { S, injected } = page('https://cdn.example/sdk/sealed-rpc.iife.js', () => 'run', () => src);
    const e = await S.preloadAssets('fallback').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(S.RpcError);
    expect(e.code).toBe('CRYPTO_UNAVAILABLE');
    expect(e.message).toContain(`another build of sealed-rpc (${other}; sealed-rpc.iife.js is ${DIST_BUILD_ID})`);
    src = FALLBACK_SRC;
    await S.preloadAssets('fallback');
    expect(injected).toEqual([`https://cdn.example/sdk/${FALLBACK}?v=${DIST_BUILD_ID}`, `https://cdn.example/sdk/${FALLBACK}?v=${DIST_BUILD_ID}`]);
  });
});
