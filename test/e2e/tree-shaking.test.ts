/**
 * What an app's bundler keeps of the SDK: a tree-shaken import of the client and one dialect,
 * bundled the way `npm run size` measures it (Vite library build, es2020). Guards the two size
 * fixes that no budget would catch while the bundles are over budget anyway.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealed-rpc-shake-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * The up-front code of createClient + fetchTransport + indexedDbStore + `dialect`, unminified:
 * imported from the sources (`file`: the profile's), or with `file` undefined from the built
 * package, dist/sealed-rpc.js (what an app's `import … from 'sealed-rpc'` gets; `npm test` builds it first).
 */
async function appBundle(dialect: string, file: string | undefined): Promise<string> {
  const entry = join(dir, `entry-${dialect}-${file ? 'src' : 'package'}.js`);
  const index = JSON.stringify(join(ROOT, file ? 'src/index.ts' : 'dist/sealed-rpc.js'));
  await writeFile(entry, `export { createClient, fetchTransport, indexedDbStore } from ${index};\nexport { ${dialect} } from ${file ? JSON.stringify(join(ROOT, 'src/profiles', file)) : index};\n`);
  const out = await build({
    logLevel: 'silent',
    configFile: false,
    root: ROOT,
    build: { write: false, minify: false, target: 'es2020', lib: { entry, formats: ['es'], fileName: () => 'entry.js' } },
  });
  const chunks = (Array.isArray(out) ? out : [out]).flatMap((o) => ('output' in o ? o.output : [])).filter((c) => c.type === 'chunk');
  const main = chunks.find((c) => c.fileName === 'entry.js');
  if (!main || main.type !== 'chunk') throw new Error('no entry chunk');
  // The entry and what it imports statically (the lazy @noble chunks are not up front).
  return [main.code, ...chunks.filter((c) => c.type === 'chunk' && main.imports.includes(c.fileName)).map((c) => (c.type === 'chunk' ? c.code : ''))].join('\n');
}

// A meaning from the mgs result-code table, and the message of the helper that es2020 output
// needs for TypeScript class fields emitted as Object.defineProperty.
const MGS_TABLE = 'back-end could not read the request JSON';
const FIELD_HELPER = '@@toPrimitive must return a primitive value';

describe('tree-shaken single-dialect bundles', () => {
  it('modern + client + fetch + IndexedDB carries neither the mgs result-code table nor the class-field helper', async () => {
    const code = await appBundle('modern', 'modern.ts');
    expect(code).toContain('this.name = "RpcError"'); // the SDK's code, its class fields as plain assignments
    expect(code).toContain('sealed-rpc/v1 issue'); // with the dialect in it
    expect(code).not.toContain(MGS_TABLE);
    expect(code).not.toContain(FIELD_HELPER);
    expect(code).not.toMatch(/Object\.defineProperty\(this\b/);
  });

  it('imported from the built package (dist/sealed-rpc.js), modern + client + fetch + IndexedDB does not carry the mgs table either, and mgs does', async () => {
    // The library build once flattened the table's PURE arrow IIFE into a PURE call whose
    // arguments (row builders) every app's bundler then kept: ~0.4 KB min+gz in each bundle.
    const modernCode = await appBundle('modern', undefined);
    expect(modernCode).toContain('sealed-rpc/v1 issue');
    expect(modernCode).not.toContain(MGS_TABLE);
    expect(await appBundle('mgs', undefined)).toContain(MGS_TABLE);
  });

  it('imported from the built package, modern + client + fetch + IndexedDB keeps none of the module-level set-up of modules it does not use (sorted-sign codes, mgs timestamp alphabet, fflate tables), as from src', async () => {
    // In one bundled file those statements stayed in every app (~0.4 KB min+gz): `"sideEffects": false` only
    // drops whole modules, so the package keeps one file per module and its dependencies as imports.
    const unused = [/\bappNotFound\b/, /0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\+\//, /invalid block type/];
    const fromPackage = await appBundle('modern', undefined);
    for (const marker of unused) expect(fromPackage).not.toMatch(marker);
    // … and the markers are what those modules hold: an app that uses them has them.
    expect(await appBundle('sortedSign', undefined)).toMatch(unused[0]);
    expect(await appBundle('mgs', undefined)).toMatch(unused[1]);
  });

  it('the built package imports @noble/*, fflate and idb-keyval by name (one copy, shared with the app) instead of bundling them', async () => {
    const { readFile, readdir } = await import('node:fs/promises');
    const files = (await readdir(join(ROOT, 'dist/lib'), { recursive: true })).filter((f) => f.endsWith('.js'));
    const code = (await Promise.all(files.map((f) => readFile(join(ROOT, 'dist/lib', f), 'utf8')))).join('\n');
    for (const dep of ['@noble/hashes/', '@noble/ciphers/', 'fflate', 'idb-keyval']) expect(code).toMatch(new RegExp(`from "${dep}`));
    expect(code).not.toMatch(/invalid block type/); // fflate's own code (its module-level error table) is not in it (32768, the old marker, is also S_IFREG in zip.ts)
    expect(await readFile(join(ROOT, 'node_modules/fflate/esm/browser.js'), 'utf8')).toMatch(/invalid block type/); // … and fflate's code holds it
  });

  it('mgs + client + fetch + IndexedDB does carry the table (the check above can see it)', async () => {
    const code = await appBundle('mgs', 'mgs.ts');
    expect(code).toContain(MGS_TABLE);
    expect(code).not.toContain(FIELD_HELPER);
  });
});
