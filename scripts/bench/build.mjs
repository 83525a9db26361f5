// Bundling with Vite's build API (no ts-node, no vite-node): used by bench.mjs and size.mjs.
import { build } from 'vite';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Node-targeted ES bundles (dependencies bundled in, node:* external), one file per entry: `<name>.mjs`. */
export async function bundleNode(entries, outDir) {
  await build({
    configFile: false,
    root: ROOT,
    logLevel: 'warn',
    ssr: { noExternal: true },
    build: {
      ssr: true,
      outDir,
      emptyOutDir: true,
      target: 'node20',
      minify: false,
      reportCompressedSize: false,
      rollupOptions: { input: entries, output: { format: 'es', entryFileNames: '[name].mjs' } },
    },
  });
}

/** A browser IIFE (global `name`), written to `outDir/<file>`. */
export async function bundleBrowser(entry, outDir, name, file) {
  await build({
    configFile: false,
    root: ROOT,
    logLevel: 'warn',
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      minify: false,
      reportCompressedSize: false,
      lib: { entry, formats: ['iife'], name, fileName: () => file },
    },
  });
}
