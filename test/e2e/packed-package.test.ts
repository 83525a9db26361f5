/**
 * The package as npm ships it: `npm pack` of the built repository, unpacked into a fresh
 * app's node_modules (its dependencies linked from this repository's, so nothing is
 * downloaded), then used from that app as an installed package: by name from Node, by a
 * TypeScript consumer under each module resolution, and through its bin.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './browser-static.js';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  main: string;
  module: string;
  types: string;
  unpkg: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
};

let dir: string;
let app: string;
let installed: string;
let packed: string[];

beforeAll(() => {
  if (!existsSync(join(REPO, pkg.main))) throw new Error(`${pkg.main} is missing: run npm run build first (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), 'sealed-rpc-pack-'));
  const out = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { filename: string; files: { path: string }[] }[];
  packed = out[0]!.files.map((f) => f.path);
  app = join(dir, 'app');
  installed = join(app, 'node_modules', 'sealed-rpc');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(dir, out[0]!.filename), '-C', installed, '--strip-components=1']);
  // What `npm install` would fetch, taken from this repository's node_modules instead (no network in tests).
  for (const name of Object.keys(pkg.dependencies)) {
    mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
    symlinkSync(join(REPO, 'node_modules', name), join(app, 'node_modules', name), 'dir');
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every path package.json points at (exports, main, module, types, unpkg, bin), without "./". */
function namedPaths(): string[] {
  const targets = Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)));
  return [...new Set([...targets, pkg.main, pkg.module, pkg.types, pkg.unpkg, ...Object.values(pkg.bin)].map((p) => p.replace(/^\.\//, '')))];
}

describe('the packed package (npm pack), installed into a fresh app', () => {
  it('holds every file its exports, main, module, types, unpkg and bin name, and nothing from src/, test/ or examples/', () => {
    const missing = namedPaths().filter((p) => !packed.includes(p));
    expect(missing).toEqual([]);
    expect(packed).toContain('README.md');
    expect(packed.filter((p) => /^(src|test|examples|scripts|\.ci)\//.test(p))).toEqual([]);
    // The on-demand IIFE files sit next to the up-front one, where it looks for them.
    for (const f of ['sealed-rpc.fallback.iife.js', 'sealed-rpc.unzip.iife.js']) expect(packed).toContain(`dist/${f}`);
  });

  it("the README's script tag pins this version's IIFE on unpkg (the companion files must be of the same build), a file the package holds", () => {
    const src = /<script src="(https:\/\/unpkg\.com\/[^"]+)"><\/script>/.exec(readFileSync(join(REPO, 'README.md'), 'utf8'))?.[1];
    expect(src).toBe(`https://unpkg.com/sealed-rpc@${pkg.version}/${pkg.unpkg.replace(/^\.\//, '')}`);
    expect(packed).toContain(pkg.unpkg.replace(/^\.\//, ''));
  });

  it("an app imports 'sealed-rpc' and 'sealed-rpc/server' by name, and the installed client calls the installed gateway over 127.0.0.1", () => {
    // Run by node from the app's folder, so both names resolve as in a real install (not through Vitest).
    writeFileSync(
      join(app, 'roundtrip.mjs'),
      `import http from 'node:http';
import { createClient, modern, fetchTransport, memoryStore, RpcError } from 'sealed-rpc';
import * as server from 'sealed-rpc/server';
const { privateKeyPem, publicJwk } = await server.generateSigningKeyPair();
const gateway = server.createGateway({ profile: server.modern({ signingKeys: { k1: privateKeyPem } }) })
  .operation('/sum', ({ a, b }) => ({ sum: String(Number(a) + Number(b)) }))
  .operation('/fail', () => { throw new server.OperationError('E_DEMO', 'demo failure'); });
const srv = http.createServer(server.toNodeHandler(gateway));
await new Promise((r) => srv.listen(0, '127.0.0.1', r));
try {
  const client = createClient({ profile: modern({ serverKeys: { k1: publicJwk } }), transport: fetchTransport({ baseUrl: 'http://127.0.0.1:' + srv.address().port }), store: memoryStore() });
  const sum = await client.call('/sum', { a: '2', b: '40' });
  const failed = await client.call('/fail', {}).catch((e) => e);
  console.log(JSON.stringify({ sum, failed: { isRpcError: failed instanceof RpcError, code: failed.code, gatewayCode: failed.gatewayCode } }));
} finally {
  srv.close();
}
`,
    );
    const out = execFileSync(process.execPath, ['roundtrip.mjs'], { cwd: app, encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out)).toEqual({ sum: { sum: '42' }, failed: { isRpcError: true, code: 'GATEWAY', gatewayCode: 'E_DEMO' } });
  });

  it.each([
    ['node16', 'node16', ['node']],
    ['nodenext', 'nodenext', ['node']],
    ['bundler', 'esnext', ['node']],
    ['bundler, a browser app without @types/node', 'esnext', []],
  ] as const)('a TypeScript app type-checks against the packed .d.ts (moduleResolution %s, strict, lib checks on)', (resolution, module, types) => {
    const server = types.length > 0;
    writeFileSync(
      join(app, 'use.ts'),
      `import { createClient, modern, fetchTransport, RpcError, type Client } from 'sealed-rpc';
${server ? "import { createGateway, modern as modernGateway, toNodeHandler } from 'sealed-rpc/server';" : ''}
const client: Client = createClient({ profile: modern({ serverKeys: { k1: 'k' } }), transport: fetchTransport({ baseUrl: '/' }) });
export const sum: Promise<{ sum: string }> = client.call<{ sum: string }>('/sum', { a: '1' });
export const code: RpcError['code'] = 'TIMEOUT';
${server ? "export const handler = toNodeHandler(createGateway({ profile: modernGateway({ signingKeys: { k1: 'pem' } }) }));" : ''}
// A wrong use is an error, so the check is not vacuous:
// @ts-expect-error call() takes an operation type string
client.call(42);
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, target: 'es2022', lib: ['es2022', 'dom'], module, moduleResolution: resolution.split(',')[0], types, typeRoots: [join(REPO, 'node_modules/@types')] },
        files: ['use.ts'],
      }),
    );
    const tsc = join(REPO, 'node_modules/.bin/tsc');
    let output = '';
    try {
      execFileSync(tsc, ['-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    } catch (e) {
      output = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(output).toBe('');
  }, 90_000);

  it('the installed bin runs (sealed-rpc --help prints the sign-package usage)', () => {
    const out = execFileSync(process.execPath, [join(installed, pkg.bin['sealed-rpc']!), '--help'], { cwd: app, encoding: 'utf8', timeout: 20_000 });
    expect(out).toMatch(/usage:\s+sealed-rpc sign-package <in\.zip> --key <private\.pem>/);
  });
});
