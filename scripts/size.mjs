#!/usr/bin/env node
/**
 * npm run size [-- --dist] [-- --json]
 *
 * min+gz (node:zlib gzip level 9 of minified code) of
 *   - the bundles `npm run build` writes (dist/sealed-rpc.js, dist/sealed-rpc.iife.js,
 *     dist/server.js), built fresh from src with the project's vite.config.ts into a temp
 *     dir (`--dist` measures the existing dist/ instead). The library build leaves
 *     whitespace in ESM output, so ESM files are minified here before gzip (each chunk on
 *     its own, as a server compresses each file); the as-shipped gzip size is shown too;
 *   - a tree-shaken app import of each single dialect: createClient + fetchTransport +
 *     indexedDbStore + that one profile imported from the built package (dist/sealed-rpc.js,
 *     what `import … from 'sealed-rpc'` gets), bundled with Vite's library build (ES, es2020)
 *     into a temp dir, then minified (the per-module breakdown is of the same import from src),
 *
 * checked against size-budget.json. Exits 1 when a bundle is over its budget, and then
 * prints where its bytes come from (each package's and folder's share of the code, and the
 * exact min+gz it would lose without that package). Not part of `npm test`.
 *
 * "up front" = the entry chunk and the chunks it imports statically: what a page loads.
 * Chunks reached only through import() (the pure-JS crypto for pages without
 * crypto.subtle), and the classic-script files dist/sealed-rpc.iife.js injects on demand
 * (dist/sealed-rpc.*.iife.js: the same pure-JS crypto, the offline-package unzipper), are
 * listed apart and not counted against the budget: the IIFE's budget is its up-front file.
 */
import { build, loadConfigFromFile } from 'vite';
import { gzipSync } from 'node:zlib';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { ROOT } from './bench/build.mjs';

const args = process.argv.slice(2);
const useDist = args.includes('--dist');
const asJson = args.includes('--json');
const budget = JSON.parse(readFileSync(resolve(ROOT, 'size-budget.json'), 'utf8'));
// Inside node_modules/: the package built here imports its dependencies by name, resolved from there.
mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
const tmp = mkdtempSync(join(ROOT, 'node_modules/.cache/sealed-rpc-size-'));
// … with the package's own package.json beside it: without it a bundler sees no `"sideEffects": false` there.
writeFileSync(join(tmp, 'package.json'), readFileSync(join(ROOT, 'package.json')));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const gz = (s) => gzipSync(Buffer.from(s), { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(2) + ' KB';
const DEPS = [/^node:/, /^@noble\//, 'fflate', 'idb-keyval'];
let seq = 0;

async function viteBuild(config) {
  const out = await build({ logLevel: 'silent', configFile: false, root: ROOT, ...config });
  return (Array.isArray(out) ? out : [out]).flatMap((o) => o.output ?? []).filter((c) => c.type === 'chunk');
}

/** Minify one finished ES chunk the way an app build would; its imports stay imports. */
async function minify(code, node = false) {
  const file = join(tmp, `min-${seq++}.js`);
  writeFileSync(file, code);
  const [chunk] = await viteBuild({
    build: {
      write: false,
      minify: true,
      target: node ? 'node20' : 'es2020',
      ...(node ? { ssr: true } : {}),
      rollupOptions: { input: file, external: [...DEPS, /^\.\.?\//], preserveEntrySignatures: 'exports-only', treeshake: false, output: { format: 'es' } },
    },
  });
  return chunk.code;
}

/** Relative static imports of an ES chunk (`import … from "./x.js"`, `export … from`, bare `import "./x.js"`). */
function staticImports(code) {
  const out = [];
  for (const m of code.matchAll(/(?:^|[;\s}])(?:import|export)\s*(?:[^'"();]*?\sfrom\s*)?["'](\.\.?\/[^"']+)["']/g)) out.push(m[1]);
  return out;
}

/** `chunks/../x.js` -> `x.js` (posix, relative to dist/). */
function normalize(path) {
  const out = [];
  for (const part of path.split('/')) {
    if (part === '..') out.pop();
    else if (part !== '.' && part !== '') out.push(part);
  }
  return out.join('/');
}

/** Split chunks into up front (reachable by static imports from `entry`) and lazy. */
function classify(entryName, chunks, importsOf) {
  const byName = new Map(chunks.map((c) => [c.fileName, c]));
  const initial = new Set();
  const walk = (name) => {
    if (initial.has(name) || !byName.has(name)) return;
    initial.add(name);
    // Import specifiers are relative to the importing file (chunks live in dist/chunks/).
    const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/') + 1) : '';
    for (const i of importsOf(byName.get(name))) walk(normalize(dir + i));
  };
  walk(entryName);
  return { initial: chunks.filter((c) => initial.has(c.fileName)), lazy: chunks.filter((c) => !initial.has(c.fileName)) };
}

async function sizeOf(chunks, node = false) {
  let min = 0;
  let minGz = 0;
  for (const c of chunks) {
    const m = await minify(c.code, node);
    min += m.length;
    minGz += gz(m);
  }
  return { min, minGz };
}

// ---------------------------------------------------------------- the dist bundles

async function distRows() {
  let dir = resolve(ROOT, 'dist');
  if (!useDist) {
    dir = join(tmp, 'dist');
    // The two builds `npm run build` runs (client library, then --mode server), into a temp dir,
    // with their own settings: the client files as shipped, `//# sourceMappingURL` line included.
    const cfg = { configFile: resolve(ROOT, 'vite.config.ts') };
    await viteBuild({ ...cfg, build: { outDir: dir, emptyOutDir: true } });
    await viteBuild({ ...cfg, mode: 'server', build: { outDir: dir, emptyOutDir: false, sourcemap: false } });
  }
  const rows = [];
  packageEntry = join(dir, 'sealed-rpc.js');
  const { readdirSync } = await import('node:fs');
  // The classic scripts sealed-rpc.iife.js loads on demand (vite.config.ts IIFE_BUILDS).
  const onDemand = existsSync(dir) ? readdirSync(dir).filter((f) => /^sealed-rpc\..+\.iife\.js$/.test(f)).sort() : [];
  for (const [name, kind] of [
    ['sealed-rpc.js', 'es'],
    ['sealed-rpc.iife.js', 'iife'],
    ['server.js', 'node'],
  ]) {
    const file = join(dir, name);
    if (!existsSync(file)) {
      rows.push({ name: 'dist/' + name, missing: true });
      continue;
    }
    const raw = readFileSync(file, 'utf8');
    const row = { name: 'dist/' + name, raw: Buffer.byteLength(raw), gzShipped: gz(raw), budget: budget.bundles?.['dist/' + name] };
    if (kind === 'iife') {
      Object.assign(row, { min: row.raw, minGz: row.gzShipped }); // already minified
      // Already minified too; each is fetched by the up-front file only when needed (see ON_DEMAND).
      row.lazy = onDemand.map((f) => {
        const code = readFileSync(join(dir, f), 'utf8');
        return { name: 'dist/' + f, script: true, min: Buffer.byteLength(code), minGz: gz(code) };
      });
    } else if (kind === 'es') {
      // One file per module, its dependencies imports: weighed as an app bundles the whole of it (dependencies in).
      const entry = join(tmp, 'entry-all.js');
      writeFileSync(entry, `export * from ${JSON.stringify(file)};\n`);
      const { initial, lazy } = await libBuild(entry);
      // raw and gz shipped: the entry and every file in dist/lib/ (what the package holds for it).
      const shipped = readdirSync(join(dir, 'lib'), { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dir, 'lib', f), 'utf8'));
      for (const code of shipped) Object.assign(row, { raw: row.raw + Buffer.byteLength(code), gzShipped: row.gzShipped + gz(code) });
      Object.assign(row, await sizeOf(initial), { chunks: initial.length, lazy: [] });
      for (const c of lazy) row.lazy.push({ name: c.fileName, modules: Object.keys(c.modules).map(shortId), ...(await sizeOf([c])) });
    } else {
      // The server entry at the top of dist/, its chunks in dist/chunks/ (the client's modules in dist/lib/ are not its).
      const chunks = readdirSync(dir, { recursive: true })
        .filter((f) => f.endsWith('.js') && !f.endsWith('.iife.js') && !f.startsWith('types'))
        .map((f) => ({ fileName: f.split(sep).join('/'), code: readFileSync(join(dir, f), 'utf8') }));
      const { initial } = classify(name, chunks, (c) => staticImports(c.code));
      Object.assign(row, await sizeOf(initial, true));
      row.chunks = initial.length;
    }
    rows.push(row);
  }
  return rows;
}

// ---------------------------------------------------------------- one dialect, tree-shaken

const DIALECTS = {
  modern: 'src/profiles/modern.ts',
  appSecret: 'src/profiles/app-secret.ts',
  sortedSign: 'src/profiles/sorted-sign.ts',
  mgs: 'src/profiles/mgs.ts',
};

/** The built dist/sealed-rpc.js (set by distRows): what an app's `import … from 'sealed-rpc'` gets. */
let packageEntry;

/**
 * An app's import of `name` (a dialect, or `core`: the client alone). `from: 'package'` imports
 * the built package, as an app does: what is measured against the budget (the library build
 * must leave it tree-shakeable). `from: 'src'` imports the sources, for the per-module breakdown.
 */
function entryFor(name, from = 'package') {
  const file = join(tmp, `entry-${name}-${from}.js`);
  const index = JSON.stringify(from === 'src' ? resolve(ROOT, 'src/index.ts') : packageEntry);
  const profile = from === 'src' && name !== 'core' ? JSON.stringify(resolve(ROOT, DIALECTS[name])) : index;
  writeFileSync(file, `export { createClient, fetchTransport, indexedDbStore } from ${index};\n${name === 'core' ? '' : `export { ${name} } from ${profile};\n`}`);
  return file;
}

/** Library build of an entry (ES, not minified): its chunks, split into up front and lazy. `inline` puts import()ed code in (as the IIFE does); `plugins`: the IIFE build's. */
async function libBuild(file, { external = [], inline = false, plugins = [] } = {}) {
  const chunks = await viteBuild({
    plugins,
    build: {
      write: false,
      minify: false,
      target: 'es2020',
      lib: { entry: file, formats: ['es'], fileName: () => 'entry.js' },
      rollupOptions: { external, output: inline ? { codeSplitting: false } : {} },
    },
  });
  return classify('entry.js', chunks, (c) => c.imports);
}

/** Group a module id: a package under node_modules, or a src folder. */
function groupOf(id) {
  const clean = id.replace(/^\0/, '').replace(/\?.*$/, '');
  const nm = clean.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = clean.slice(nm + 13).split('/');
    return parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0];
  }
  if (!clean.startsWith(ROOT + '/src/')) return '(build helpers)';
  const p = clean.slice(ROOT.length + 1).split('/');
  return p.length > 2 ? p.slice(0, 2).join('/') + '/' : p.join('/');
}

/** When the up-front IIFE fetches each on-demand file. */
const ON_DEMAND = {
  'sealed-rpc.fallback.iife.js': 'once, by the first call that needs crypto where crypto.subtle is missing (pure-JS AES-GCM/CBC, SHA-256, HMAC, HKDF, P-256)',
  'sealed-rpc.unzip.iife.js': 'once, by the first verifyPackage / loadPackage (fflate unzip)',
};

const shortId = (id) => id.replace(/^\0/, '').replace(/.*node_modules\//, '').replace(ROOT + '/', '');

/** Where the up-front bytes of `file` come from. */
async function attribution(file, minGz, inline, plugins = []) {
  const { initial } = await libBuild(file, { inline, plugins });
  const groups = new Map();
  const byModule = [];
  let total = 0;
  for (const c of initial) {
    for (const [id, m] of Object.entries(c.modules)) {
      if (id.startsWith(tmp)) continue; // the generated entry
      const n = m.renderedLength ?? 0;
      total += n;
      groups.set(groupOf(id), (groups.get(groupOf(id)) ?? 0) + n);
      byModule.push([shortId(id), n]);
    }
  }
  const rows = [];
  for (const [g, n] of [...groups].sort((a, b) => b[1] - a[1])) {
    const row = { group: g, share: n / total, estMinGz: Math.round((n / total) * minGz) };
    if (!g.startsWith('src') && !g.startsWith('(')) {
      const re = new RegExp('^' + g.replace(/[/.]/g, '\\$&') + '(/|$)');
      const without = await libBuild(file, { external: [re], inline, plugins });
      row.savedIfLeftOut = minGz - (await sizeOf(without.initial)).minGz;
    }
    rows.push(row);
  }
  return { groups: rows, topModules: byModule.sort((a, b) => b[1] - a[1]).slice(0, 10).map(([id, n]) => ({ module: id, share: n / total })) };
}

async function dialectRows() {
  const rows = [];
  // For reference: what every single-dialect bundle shares (no budget of its own).
  const core = await libBuild(entryFor('core'));
  rows.push({ name: 'client + fetch + IndexedDB (no dialect)', ...(await sizeOf(core.initial)), chunks: core.initial.length, reference: true });
  for (const name of Object.keys(DIALECTS)) {
    if (!existsSync(resolve(ROOT, DIALECTS[name]))) {
      rows.push({ name: `${name} + client + fetch + IndexedDB`, missing: true });
      continue;
    }
    const { initial, lazy } = await libBuild(entryFor(name));
    const row = { name: `${name} + client + fetch + IndexedDB`, file: entryFor(name, 'src'), ...(await sizeOf(initial)), budget: budget.singleDialect, chunks: initial.length };
    row.lazy = [];
    for (const c of lazy) row.lazy.push({ name: c.fileName, modules: Object.keys(c.modules).map(shortId), ...(await sizeOf([c])) });
    rows.push(row);
  }
  return rows;
}

// ---------------------------------------------------------------- report

const dist = await distRows();
const dialects = await dialectRows();
const all = [...dist, ...dialects];
let over = 0;
for (const r of all) {
  // A budgeted bundle that is not there (not built, a renamed profile) fails too.
  if (r.missing && (r.name.startsWith('dist/') ? budget.bundles?.[r.name] : budget.singleDialect)) over++;
  if (r.missing || !r.budget) continue;
  r.over = r.minGz - r.budget;
  if (r.over > 0) over++;
}
for (const r of dialects) if (r.over > 0) r.attribution = await attribution(r.file, r.minGz, false);
const iife = dist.find((r) => r.name === 'dist/sealed-rpc.iife.js');
if (iife?.over > 0) {
  // The up-front IIFE as vite.config.ts builds it (`--mode iife`: its entry, and the plugin that swaps in the on-demand loaders).
  const { config } = await loadConfigFromFile({ command: 'build', mode: 'iife' }, resolve(ROOT, 'vite.config.ts'), ROOT, 'silent');
  iife.attribution = await attribution(resolve(ROOT, config.build.lib.entry), iife.minGz, true, config.plugins);
}

if (asJson) {
  console.log(JSON.stringify(all, (k, v) => (k === 'file' ? undefined : v), 2));
} else {
  const pad = (s, n) => String(s).padEnd(n);
  const lpad = (s, n) => String(s).padStart(n);
  console.log(`${pad('bundle (up front)', 42)}${lpad('raw', 11)}${lpad('gz shipped', 12)}${lpad('min', 11)}${lpad('min+gz', 11)}${lpad('budget', 11)}  status`);
  for (const r of all) {
    if (r.missing) {
      console.log(`${pad(r.name, 42)}  (missing)`);
      continue;
    }
    const status = !r.budget ? '' : r.over > 0 ? `OVER by ${kb(r.over)} (+${((r.minGz / r.budget - 1) * 100).toFixed(0)}%)` : `ok, ${kb(-r.over)} to spare`;
    console.log(`${pad(r.name, 42)}${lpad(r.raw ? kb(r.raw) : '', 11)}${lpad(r.gzShipped ? kb(r.gzShipped) : '', 12)}${lpad(kb(r.min), 11)}${lpad(kb(r.minGz), 11)}${lpad(r.budget ? kb(r.budget) : '–', 11)}  ${status}`);
  }
  const withLazy = all.filter((r) => r.lazy?.some((c) => !c.script));
  if (withLazy.length) {
    console.log('\nLoaded only where crypto.subtle is missing (http:/file: pages), through import(); not counted above (min+gz):');
    for (const r of withLazy) {
      const lazy = r.lazy.filter((c) => !c.script);
      const total = lazy.reduce((n, c) => n + c.minGz, 0);
      const what = lazy.flatMap((c) => c.modules ?? []).filter((m) => /^@noble\/[^/]+\/(aes|_polyval|sha2|hmac|hkdf|nist)\.js$/.test(m)).map((m) => m.replace(/^@noble\/[^/]+\//, '').replace('.js', ''));
      console.log(`  ${pad(r.name, 40)}${lpad(kb(total), 10)}${what.length ? '  (' + [...new Set(what)].join(', ') + ')' : ''}`);
    }
  }
  const scripts = all.flatMap((r) => (r.lazy ?? []).filter((c) => c.script).map((c) => ({ ...c, from: r.name })));
  if (scripts.length) {
    console.log('\nClassic scripts dist/sealed-rpc.iife.js injects on demand (next to it, or SealedRpc.setAssetBase); not counted above:');
    console.log(`  ${pad('file', 40)}${lpad('min', 10)}${lpad('min+gz', 11)}  fetched`);
    for (const c of scripts) console.log(`  ${pad(c.name, 40)}${lpad(kb(c.min), 10)}${lpad(kb(c.minGz), 11)}  ${ON_DEMAND[c.name.replace('dist/', '')] ?? ''}`);
  }
  for (const r of all) {
    if (!r.attribution) continue;
    console.log(`\n${r.name}: where the ${kb(r.minGz)} come from (share of the tree-shaken code -> ~min+gz; "without" = exact min+gz saved if that package were not bundled)`);
    for (const g of r.attribution.groups) {
      if (g.share < 0.005) continue;
      console.log(`  ${pad(g.group, 24)}${lpad((g.share * 100).toFixed(1) + '%', 7)}  ~${lpad(kb(g.estMinGz), 9)}${g.savedIfLeftOut !== undefined ? `   without: -${kb(g.savedIfLeftOut)}` : ''}`);
    }
    console.log('  largest modules: ' + r.attribution.topModules.map((m) => `${m.module} ${(m.share * 100).toFixed(0)}%`).join(', '));
  }
  console.log(over ? `\n${over} bundle(s) over budget (size-budget.json).` : '\nAll bundles within budget (size-budget.json).');
}
process.exit(over ? 1 : 0);
