import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { build, defineConfig, type LogLevel, type Plugin, type UserConfig } from 'vite';

/** Dev server: the playground page plus the embedded demo gateways under /gw. */
function gatewayPlugin(): Plugin {
  return {
    name: 'sealed-rpc-gateway',
    async configureServer(server) {
      const { demoMiddleware } = await import('./examples/node-backend/mount.js');
      const { middleware } = await demoMiddleware();
      server.middlewares.use(middleware);
    },
  };
}

/**
 * The classic-script (IIFE) files in dist/, for pages that use a plain <script>. A script tag
 * cannot load chunks, so what only some pages need is not in sealed-rpc.iife.js: it is in
 * on-demand files next to it, which that bundle injects as <script> on first use
 * (src/crypto/load-script.ts). Each is one `vite build --mode <key>` (IIFE cannot be split).
 */
export const IIFE_BUILDS = {
  /** Up front: the whole public API, global `SealedRpc` (plus setAssetBase). */
  iife: { entry: 'src/iife.ts', file: 'sealed-rpc.iife.js', name: 'SealedRpc' },
  /** On demand, where crypto.subtle is missing: pure.ts + pure-ec.ts (@noble AES-GCM/CBC, SHA-256, HMAC, HKDF, P-256). */
  'iife-fallback': { entry: 'src/crypto/fallback.iife.ts', file: 'sealed-rpc.fallback.iife.js', name: 'SealedRpcFallback' },
  /** On demand, by verifyPackage / loadPackage: fflate's unzip. */
  'iife-unzip': { entry: 'src/package/unzip-entry.iife.ts', file: 'sealed-rpc.unzip.iife.js', name: 'SealedRpcUnzip' },
} as const;
type IifeMode = keyof typeof IIFE_BUILDS;

/** In the IIFE builds these modules are replaced by their `.iife.ts` twins, which load the on-demand files instead of import()/static imports. */
const IIFE_SWAPS: Record<string, string> = {
  'src/crypto/load-pure.ts': 'src/crypto/load-pure.iife.ts',
  'src/package/unzip.ts': 'src/package/unzip.iife.ts',
};
/** Must never be in the up-front IIFE (they are what the on-demand files are for). */
const ON_DEMAND_ONLY = /\/src\/crypto\/pure(-ec)?\.ts$|\/node_modules\/(@noble\/curves|fflate)\//;

function iifeSwaps(upFront: boolean): Plugin {
  let root = process.cwd();
  return {
    name: 'sealed-rpc-iife-swaps',
    enforce: 'pre',
    configResolved(c) {
      root = c.root;
    },
    async resolveId(source, importer, options) {
      if (!importer || !/\/(load-pure|unzip)\.js$/.test(source)) return null;
      const r = await this.resolve(source, importer, { ...options, skipSelf: true });
      const swap = r && IIFE_SWAPS[r.id.slice(root.length + 1)];
      return swap ? resolve(root, swap) : null;
    },
    generateBundle(options, bundle) {
      if (options.format !== 'iife') return; // (scripts/size.mjs builds the same graph as ES, unminified, to weigh it)
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        // A classic script has no use for import(), and dev servers (Vite's import analysis) rewrite one that contains it as a module, breaking it.
        const esm = /.{0,60}(\bimport\s*\(|\bimport\.meta\b).{0,40}/.exec(chunk.code);
        if (esm) this.error(`${chunk.fileName} is a classic script but contains import() or import.meta: ${esm[0]}`);
        const leaked = upFront ? Object.keys(chunk.modules).filter((id) => ON_DEMAND_ONLY.test(id)) : [];
        if (leaked.length) this.error(`${chunk.fileName} must load these on demand, but bundles them: ${leaked.join(', ')} (something imports them statically)`);
      }
    },
  };
}

/**
 * One id for the three IIFE files built from the same sources: a hash of src/ and the package
 * version. sealed-rpc.iife.js asks for its on-demand files with `?v=<id>` and takes only that
 * build's (src/crypto/build-id.iife.ts).
 */
export function iifeBuildId(root: string): string {
  const hash = createHash('sha256').update(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  const src = join(root, 'src');
  // Walked by hand: readdirSync's `recursive` and Dirent.parentPath are newer than Node 20.0 (engines: >=20).
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      if (d.isDirectory()) walk(join(dir, d.name));
      else if (d.isFile()) files.push(join(dir, d.name));
    }
  };
  walk(src);
  for (const f of files.sort()) hash.update(`\0${relative(src, f)}\0`).update(readFileSync(f));
  return hash.digest('hex').slice(0, 12);
}

function iifeConfig(mode: IifeMode, buildId: string): UserConfig {
  const { entry, file, name } = IIFE_BUILDS[mode];
  return {
    plugins: [iifeSwaps(mode === 'iife')],
    define: { __SEALED_RPC_BUILD__: JSON.stringify(buildId) },
    build: {
      outDir: 'dist',
      emptyOutDir: false,
      target: 'es2020',
      minify: true,
      sourcemap: true,
      lib: { entry, name, formats: ['iife'], fileName: () => file },
    },
  };
}

/**
 * Dev server only: the example pages work on a fresh clone, before any `npm run build`.
 * `import 'sealed-rpc'` (examples/spa) resolves to src/index.ts, and `/dist/<iife file>`
 * (script-tag, JSBridge shim, offline package pages) is the IIFE built in memory from the
 * current src/ (rebuilt after an edit), never a stale or missing file on disk.
 */
function devBundles(): Plugin {
  let root = process.cwd();
  let built: Promise<Map<string, string>> | undefined;
  const buildIifes = async (): Promise<Map<string, string>> => {
    const files = new Map<string, string>();
    const id = iifeBuildId(root);
    for (const mode of Object.keys(IIFE_BUILDS) as IifeMode[]) {
      const cfg = iifeConfig(mode, id);
      const out = await build({ ...cfg, configFile: false, root, mode, logLevel: 'warn', build: { ...cfg.build, write: false } });
      for (const o of (Array.isArray(out) ? out : [out]) as { output: { fileName: string; code?: string; source?: string | Uint8Array }[] }[]) {
        for (const f of o.output) files.set(f.fileName, f.code ?? (typeof f.source === 'string' ? f.source : new TextDecoder().decode(f.source)));
      }
    }
    return files;
  };
  return {
    name: 'sealed-rpc-dev-bundles',
    apply: 'serve',
    // Before Vite's resolver, which would take the package's own `exports` (dist/, stale or missing).
    enforce: 'pre',
    configResolved(c) {
      root = c.root;
    },
    resolveId(source) {
      return source === 'sealed-rpc' ? resolve(root, 'src/index.ts') : null;
    },
    configureServer(server) {
      const src = resolve(root, 'src') + sep;
      server.watcher.on('change', (file) => {
        if (resolve(file).startsWith(src)) built = undefined;
      });
      // This middleware runs before Vite strips `base` (`vite --base /sub/`): strip it here.
      const base = server.config.base;
      server.middlewares.use((req, res, next) => {
        const url = req.url ?? '';
        const path = base !== '/' && url.startsWith(base) ? url.slice(base.length - 1) : url;
        const name = /^\/dist\/(sealed-rpc\.[a-z.]*iife\.js(?:\.map)?)(?:\?|$)/.exec(path)?.[1];
        if (!name) return next();
        const building = (built ??= buildIifes());
        building.then(
          (files) => {
            const body = files.get(name);
            if (body === undefined) return next();
            res.setHeader('content-type', name.endsWith('.map') ? 'application/json' : 'text/javascript');
            res.setHeader('cache-control', 'no-store');
            res.end(body);
          },
          (e: unknown) => {
            if (built === building) built = undefined; // (not a newer build begun after an edit)
            next(e);
          },
        );
      });
    },
  };
}

/** After the ESM build: the IIFE builds, into the same outDir (so `vite build` writes every client file). */
function iifeBuilds(): Plugin {
  let outDir = 'dist';
  let sourcemap: boolean | 'inline' | 'hidden' = true;
  let write = true;
  let root = process.cwd();
  let logLevel: LogLevel | undefined;
  return {
    name: 'sealed-rpc-iife-builds',
    apply: 'build',
    configResolved(c) {
      ({ outDir, sourcemap, write } = c.build);
      root = c.root;
      logLevel = c.logLevel;
    },
    async closeBundle(error?: Error) {
      if (error || !write) return;
      const id = iifeBuildId(root);
      for (const mode of Object.keys(IIFE_BUILDS) as IifeMode[]) {
        const cfg = iifeConfig(mode, id);
        await build({ ...cfg, configFile: false, root, mode, ...(logLevel ? { logLevel } : {}), build: { ...cfg.build, outDir, sourcemap } });
      }
    },
  };
}

// `vite build` -> client entry: ESM (dist/sealed-rpc.js + chunks/), then the IIFE files (global SealedRpc and its
// on-demand files); `vite build --mode iife|iife-fallback|iife-unzip` -> one IIFE file; `vite build --mode server` -> the gateway entry (ESM, Node).
export default defineConfig(({ mode }) => {
  if (mode === 'server') {
    return {
      build: {
        outDir: 'dist',
        emptyOutDir: false,
        target: 'node20',
        ssr: true,
        minify: false,
        lib: { entry: { server: 'src/server/index.ts' }, formats: ['es'], fileName: (_f, name) => `${name}.js` },
        rollupOptions: { external: [/^node:/, /^@noble\//, 'fflate', 'idb-keyval'], output: { chunkFileNames: 'chunks/server-[name]-[hash].js' } },
      },
    };
  }
  if (Object.hasOwn(IIFE_BUILDS, mode)) return iifeConfig(mode as IifeMode, iifeBuildId(process.cwd()));
  return {
    plugins: [gatewayPlugin(), devBundles(), iifeBuilds()],
    server: { host: '127.0.0.1', port: 5173 },
    build: {
      outDir: 'dist',
      target: 'es2020',
      minify: true,
      sourcemap: true,
      rollupOptions: {
        // The dependencies stay imports, resolved by the app's bundler: one copy of @noble/* shared with the app,
        // and each package's own `sideEffects: false` lets it drop what is unused (fflate's tables, when no package is loaded).
        external: [/^@noble\//, 'fflate', 'idb-keyval'],
        // One file per module (dist/lib/…), so `"sideEffects": false` drops a module an app does not use as it does
        // from src/: in one file, module-level set-up (base64 tables, the sorted-sign codes) would stay (+0.4 KB).
        // The pure-JS fallback stays behind import() (pages with crypto.subtle never fetch it).
        output: { preserveModules: true, preserveModulesRoot: 'src', entryFileNames: (c) => (c.name === 'index' ? 'sealed-rpc.js' : 'lib/[name].js') },
      },
      lib: {
        entry: 'src/index.ts',
        name: 'SealedRpc',
        formats: ['es'],
        fileName: () => 'sealed-rpc.js',
      },
    },
  };
});
