#!/usr/bin/env node
/**
 * npm run bench [-- options]
 *
 * Speed of each dialect's client half (seal a request + open the gateway's canned sealed
 * answer, no network) at 1, 16 and 256 KB, in Node and in headless Chromium, interleaved
 * with a crypto-js implementation of the same dialect and (Node) node:crypto as the floor;
 * then gateway throughput: N concurrent clients against toNodeHandler(gateway) on 127.0.0.1.
 * Prints tables and writes bench-results.md.
 *
 *   --quick              short runs (for checking the tooling; numbers are rough)
 *   --gateway            only the gateway throughput part
 *   --no-gateway         skip it;   --no-browser   skip Chromium;   --no-node   skip the Node run
 *   --dialects=a,b       subset (modern, app-secret, sorted-sign, mgs)
 *   --sizes=1,16,256     sizes in KB
 *   --clients=32         concurrent clients in the throughput run
 *   --no-pin             leave the throughput run's processes unpinned (default: the gateway
 *                        children on one CPU and the load generator on another, via taskset)
 *   --seal-inline        the throughput run's clients seal each request just before sending it
 *                        (default: each window's requests are sealed before the window starts)
 *   --load-webcrypto     the throughput run's load generator on WebCrypto (default: its SDK
 *                        clients run on node:crypto via useNodeCrypto(), so they take less of
 *                        the CPU the gateway shares with them; the gateway rows are unaffected)
 *   --out=FILE           markdown output (default bench-results.md)
 */
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, bundleBrowser, bundleNode } from './bench/build.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.includes('--' + name);
const opt = (name, dflt) => {
  const a = args.find((x) => x.startsWith('--' + name + '='));
  return a ? a.slice(name.length + 3) : dflt;
};
const quick = flag('quick');
const onlyGateway = flag('gateway');
const runNodeBench = !onlyGateway && !flag('no-node');
const runBrowser = !onlyGateway && !flag('no-browser');
const runGateway = !flag('no-gateway');
const dialects = opt('dialects', 'modern,app-secret,sorted-sign,mgs').split(',');
const sizes = opt('sizes', '1,16,256')
  .split(',')
  .map((k) => Math.round(Number(k) * 1024));
const clients = Number(opt('clients', '32'));
const outFile = resolve(ROOT, opt('out', 'bench-results.md'));

const timing = quick ? { cellMs: 250, sampleMs: 8, minSamples: 3, maxSamples: 50 } : { cellMs: 3500, sampleMs: 20, minSamples: 9, maxSamples: 400 };
const browserTiming = quick ? timing : { ...timing, cellMs: 3000 };
// Gateway rows take turns: `passes` windows each, interleaved (see gatewayThroughputRun).
const gwTiming = quick ? { passes: 2, warmupMs: 300, rewarmMs: 150, durationMs: 500 } : { passes: 5, warmupMs: 700, rewarmMs: 250, durationMs: 1000 };

const started = Date.now();
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1) + ' s';
const log = (s) => console.log(s);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

// ---------------------------------------------------------------- formatting

function fmtUs(us) {
  if (!Number.isFinite(us)) return '–';
  if (us >= 10_000) return (us / 1000).toFixed(1) + ' ms';
  if (us >= 1000) return (us / 1000).toFixed(2) + ' ms';
  if (us >= 100) return us.toFixed(0) + ' µs';
  if (us >= 10) return us.toFixed(1) + ' µs';
  return us.toFixed(2) + ' µs';
}
const fmtStat = (s) => (s ? `${fmtUs(s.medianUs)} (${fmtUs(s.minUs)}–${fmtUs(s.maxUs)})` : '–');
const ratio = (a, b) => (a && b ? (a.medianUs / b.medianUs).toFixed(a.medianUs / b.medianUs >= 10 ? 0 : 1) + '×' : '–');
const kb = (n) => `${n / 1024} KB`;

function mdTable(head, rows) {
  const lines = ['| ' + head.join(' | ') + ' |', '| ' + head.map((h, i) => (i < 2 ? '---' : '---:')).join(' | ') + ' |'];
  for (const r of rows) lines.push('| ' + r.join(' | ') + ' |');
  return lines.join('\n');
}

const LABEL = { sdk: 'SDK', 'sdk-noble': 'SDK, no subtle', 'crypto-js': 'crypto-js', node: 'node:crypto' };

function speedTable(results, withNode) {
  const cols = ['sdk', 'sdk-noble', 'crypto-js', ...(withNode ? ['node'] : [])];
  const head = ['dialect', 'size', ...cols.map((c) => LABEL[c] + ' µs/round'), 'crypto-js ÷ SDK', 'crypto-js ÷ SDK no-subtle', ...(withNode ? ['SDK ÷ node:crypto'] : [])];
  const rows = results.map((r) => [
    r.dialect + (r.checks['crypto-js'] && r.checks['crypto-js'] !== 'same bytes' ? ' †' : ''),
    kb(r.size),
    ...cols.map((c) => fmtStat(r.stats[c])),
    ratio(r.stats['crypto-js'], r.stats.sdk),
    ratio(r.stats['crypto-js'], r.stats['sdk-noble']),
    ...(withNode ? [ratio(r.stats.sdk, r.stats.node)] : []),
  ]);
  return mdTable(head, rows);
}

const GW_LABEL = { 'http-echo': 'floor: node:http echo', 'adapter-echo': 'floor: toNodeHandler echo, web Request/Response', 'gateway-echo': 'floor: toNodeHandler(gateway) echo, wire path' };
const gwLabel = (r) => (GW_LABEL[r.dialect] ?? r.dialect) + (r.tuned ? ', useNodeCrypto()' : '');

const fmtRps = (r) => `${r.rps.toFixed(0)} (${r.rpsMin.toFixed(0)}–${r.rpsMax.toFixed(0)})`;

function gatewayTable(rs) {
  const head = ['dialect', 'clients', 'body', 'sealed req/s, median (min–max)', 'p50', 'p99', 'gateway CPU/req', 'client CPU/req', 'errors'];
  return mdTable(
    head,
    rs.map((r) => [gwLabel(r), String(r.clients), kb(r.size), fmtRps(r), r.p50Ms.toFixed(2) + ' ms', r.p99Ms.toFixed(2) + ' ms', fmtUs(r.gatewayCpuUsPerReq), fmtUs(r.clientCpuUsPerReq), String(r.errors) + (r.firstError ? ` (${r.firstError})` : '')]),
  );
}

// ---------------------------------------------------------------- build

const tmp = mkdtempSync(join(tmpdir(), 'sealed-rpc-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

log(`sealed-rpc bench${quick ? ' (--quick: rough numbers)' : ''}: bundling with Vite…`);
const nodeDir = join(tmp, 'node');
const webDir = join(tmp, 'web');
await bundleNode({ 'node-entry': resolve(ROOT, 'scripts/bench/node-entry.ts'), 'gateway-child': resolve(ROOT, 'scripts/bench/gateway-child.ts') }, nodeDir);
if (runBrowser) await bundleBrowser(resolve(ROOT, 'scripts/bench/browser-entry.ts'), webDir, 'SealedRpcBench', 'bench.js');
const bench = await import(pathToFileURL(join(nodeDir, 'node-entry.mjs')).href);
log(`bundled in ${elapsed()}`);

const machine = {
  date: new Date().toISOString().slice(0, 10),
  cores: cpus().length,
  cpu: cpus()[0]?.model?.trim() ?? 'unknown',
  memGiB: (totalmem() / 2 ** 30).toFixed(1),
  node: process.version,
  loadStart: loadavg().map((x) => x.toFixed(2)).join(' '),
  chromium: undefined,
};

// ---------------------------------------------------------------- fixtures + Node

let fixtures;
let nodeResults = [];
let browserResults = [];
let gatewayResults = [];
let gatewayPlacement = '';
let browserInfo;

if (runNodeBench || runBrowser) {
  fixtures = await bench.buildFixtures(sizes, dialects);
  if (fixtures.skipped.length) log(`skipped (not available): ${fixtures.skipped.join(', ')}`);
  log(`fixtures made by the gateway half in ${elapsed()}`);
}

if (runNodeBench) {
  log(`\nNode ${process.version}: µs per seal+open round (median of interleaved samples)`);
  nodeResults = await bench.runNode(fixtures, { ...timing, log: (l) => log('  ' + l) });
  log(`Node done at ${elapsed()}`);
}

// ---------------------------------------------------------------- Chromium

if (runBrowser) {
  const { chromium } = await import('playwright');
  const page404 = (res) => {
    res.statusCode = 404;
    res.end();
  };
  const html = '<!doctype html><meta charset="utf-8"><title>sealed-rpc bench</title><script src="/bench.js"></script>';
  const js = readFileSync(join(webDir, 'bench.js'));
  const fixturesJson = JSON.stringify(fixtures);
  const server = createServer((req, res) => {
    if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    if (req.url === '/bench.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    if (req.url === '/fixtures.json') return res.writeHead(200, { 'content-type': 'application/json' }).end(fixturesJson);
    page404(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    machine.chromium = browser.version();
    const page = await browser.newPage();
    page.on('console', (m) => {
      const t = m.text();
      if (t.startsWith('[bench] ')) log('  ' + t.slice(8));
    });
    page.on('pageerror', (e) => log('  page error: ' + e.message));
    await page.goto(url);
    browserInfo = await page.evaluate(() => globalThis.SealedRpcBench.info());
    log(`\nChromium ${machine.chromium} (secure context: ${browserInfo.secure}, crypto.subtle: ${browserInfo.subtle}): µs per seal+open round`);
    browserResults = await page.evaluate(
      async (timing) => {
        const fx = await (await fetch('/fixtures.json')).json();
        return globalThis.SealedRpcBench.run(fx, timing);
      },
      browserTiming,
    );
    log(`Chromium done at ${elapsed()}`);
  } finally {
    await browser.close();
    server.close();
  }
}

// ---------------------------------------------------------------- gateway throughput

if (runGateway) {
  const clientNodeCrypto = !flag('load-webcrypto');
  log(
    `\nGateway throughput: ${clients} concurrent SDK clients -> toNodeHandler(gateway) in a child process, 1 KB, ${gwTiming.passes} interleaved windows of ${gwTiming.durationMs / 1000} s per row; ` +
      `load generator: node:http keep-alive Agent, its SDK clients on ${clientNodeCrypto ? 'node:crypto (useNodeCrypto() in the load-generator process only)' : 'WebCrypto (as shipped)'}, every answer opened and checked`,
  );
  // Floors first (bare node:http echo; the same echo through toNodeHandler with web Request/Response,
  // and through a gateway on the wire-level path the built-in dialects take), then each dialect as
  // shipped, then each dialect with useNodeCrypto() in the gateway process
  // (what the recommendations in the README would give).
  const runs = [
    ...['http-echo', 'adapter-echo', 'gateway-echo'].map((dialect) => ({ dialect })),
    ...dialects.map((dialect) => ({ dialect })),
    ...(flag('no-tuned') ? [] : dialects.map((dialect) => ({ dialect, tuned: true }))),
  ];
  const { results, failed, placement } = await bench.gatewayThroughputRun({
    rows: runs.map((run) => ({ ...run, childPath: join(nodeDir, 'gateway-child.mjs'), clients, size: 1024, presealed: !flag('seal-inline') })),
    clientNodeCrypto,
    pin: !flag('no-pin'),
    ...gwTiming,
    log: (l) => log('  ' + l),
  });
  gatewayResults = results;
  gatewayPlacement = placement;
  log(`  placement: ${placement}`);
  for (const r of results)
    log(`  ${gwLabel(r).padEnd(48)} ${fmtRps(r).padStart(20)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  gateway CPU ${fmtUs(r.gatewayCpuUsPerReq)}/req  errors ${r.errors}${r.inlineSeals ? `  sealed in the window: ${r.inlineSeals}` : ''}${r.firstError ? ' (' + r.firstError + ')' : ''}`);
  for (const f of failed) log(`  ${f.dialect}: ${f.error}`);
}

// ---------------------------------------------------------------- report

machine.loadEnd = loadavg().map((x) => x.toFixed(2)).join(' ');
const md = [];
md.push(`# sealed-rpc bench results${quick ? ' (--quick, rough)' : ''}`);
md.push('');
md.push(
  `${machine.date}; ${machine.cores} cores (${machine.cpu}), ${machine.memGiB} GiB; Node ${machine.node}` +
    (machine.chromium ? `; Chromium ${machine.chromium}` : '') +
    `; load average ${machine.loadStart} at start, ${machine.loadEnd} at end; run took ${elapsed()}.`,
);
md.push('');
md.push('One round = the client half seals a request of that size and opens the gateway half’s canned sealed answer of that size (8 string params; the `/echo` operation). Median of interleaved samples, (min–max) of the samples. “no subtle” = the same SDK with `crypto.subtle` hidden, as on http:/file: pages (the @noble path); shown for the dialects where WebCrypto would run.');
md.push('');
if (nodeResults.length) {
  md.push(`## Node ${machine.node}`);
  md.push('');
  md.push(speedTable(nodeResults, true));
  md.push('');
}
if (browserResults.length) {
  md.push(`## Chromium ${machine.chromium} (headless, page on http://127.0.0.1)`);
  md.push('');
  md.push(speedTable(browserResults, false));
  md.push('');
}
if (nodeResults.length || browserResults.length) {
  md.push('† modern: crypto-js has no AES-GCM, so its column is AES-256-CBC + HMAC-SHA256 over the same fields (not the same bytes). Every other crypto-js and node:crypto cell was checked to produce the SDK’s exact bytes before timing.');
  md.push('');
}
if (gatewayResults.length) {
  md.push(`## Gateway throughput (Node ${machine.node}, 127.0.0.1)`);
  md.push('');
  md.push(gatewayTable(gatewayResults));
  md.push('');
  md.push(`Each row is the median of ${gwTiming.passes} windows of ${gwTiming.durationMs / 1000} s (min–max in brackets): every row's gateway process stays open, and the rows take turns, one window each per pass in a rotating order, each window after a ${gwTiming.rewarmMs} ms re-warm (${gwTiming.warmupMs} ms before a row's first), so a slow stretch of a shared machine falls on every row rather than on one; p50/p99 are over all of a row's windows. Load generator and gateway are separate processes on the same ${machine.cores} cores, ${gatewayPlacement.startsWith('not pinned') ? gatewayPlacement : 'pinned: ' + gatewayPlacement + ', so that they do not take turns on one core while the other idles (`--no-pin` leaves them to the scheduler)'}; CPU/req is each process’s CPU time divided by the requests answered. The load generator sends over a keep-alive node:http Agent and opens and checks every answer with the SDK client; ${gatewayResults.some((r) => r.presealed) ? `each client of a dialect row seals the window's requests (fresh nonces and timestamps, as ever) before the window starts, so the load generator spends the window sending and opening rather than sealing, which for app-secret costs it as much CPU as the gateway's work (the seal's cost is in the client tables above; \`--seal-inline\` seals each request just before it is sent; requests sealed in a window anyway because a queue ran dry: ${gatewayResults.reduce((n, r) => n + r.inlineSeals, 0)})` : 'each request is sealed just before it is sent (`--seal-inline`)'}; ${gatewayResults[0].clientNodeCrypto ? 'its SDK clients run on node:crypto (useNodeCrypto() in the load-generator process only, so they leave more of the shared CPU to the gateway; `--load-webcrypto` turns that off)' : 'its SDK clients run on WebCrypto as shipped (`--load-webcrypto`)'}. The floors answer the same 1 KB body with no crypto: bare node:http; through toNodeHandler with a plain (Request) => Response handler (web Request/Response per call); and through toNodeHandler(createGateway(…)) on the wire-level path the built-in dialects take (the IncomingMessage read and the answer written directly, same bounds), so a dialect’s own cost is its row minus the third floor. The modern gateway’s per-credential call rate and result-store bounds are raised for the run (one load-generator client sends far more than a page does). “useNodeCrypto()” = the same gateway with the SDK’s primitives on node:crypto (useNodeCrypto() from sealed-rpc/server, opt-in).`);
  md.push('');
}
const text = md.join('\n');
writeFileSync(outFile, text + '\n');
log('\n' + text);
log(`\nwritten to ${outFile} (${elapsed()})`);
process.exit(0);
