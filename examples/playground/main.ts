/**
 * The playground: one client per dialect against the demo gateway (`/gw/<dialect>`),
 * each stage of a call shown as it happens from the client's `stage` events, the other
 * client events on a timeline, and buttons that break things on purpose. Uses only the
 * SDK's public API (createClient, events, Clock, Transport).
 */
import { createClient, fetchTransport, RpcError, type Client, type ClientEventMap, type Params, type WireRequest, type WireResponse } from '../../src/index.js';
import { DIALECTS, type PlaygroundDialect, type View } from './dialects.js';
import { faultyTransport, skewedClock, type Faults } from './faults.js';

// ---------------------------------------------------------------------------------------
// State.

const faults: Faults = { skewMs: 0, networkDown: false, tamperNext: false, latencyMs: 0 };
/** Wire requests of calls (seen in `stage: 'sealed'`), so tampering never hits an issuance. */
const callWires = new WeakSet<WireRequest>();
let gatewayConfig: Record<string, Record<string, unknown>> = {};
let available: PlaygroundDialect[] = [];
let dialect: PlaygroundDialect | undefined;
const clients = new Map<string, Client>();
/** Every secret string in the published config: scrubbed from anything shown. */
const secrets = new Set<string>();

type StageName = ClientEventMap['stage']['stage'];
type EventName = Exclude<keyof ClientEventMap, 'stage'>;
const EVENT_NAMES: EventName[] = ['issued', 'renewed', 'clock-corrected', 'retry', 'storage-fallback'];

interface Mark {
  kind: StageName | EventName;
  t: number;
  data?: unknown;
}
interface Attempt {
  sealed?: WireRequest;
  response?: WireResponse;
  cause?: string;
  /** This attempt's response had one byte changed by the playground. */
  tampered?: boolean;
}
interface CallRecord {
  seq: number;
  dialect: PlaygroundDialect;
  operationType: string;
  callId?: number;
  t0: number;
  marks: Mark[];
  params?: unknown;
  attempts: Attempt[];
  shownAttempt?: number;
  result?: { ok: true; data: unknown; ms: number } | { ok: false; error: RpcError; ms: number };
}

let seq = 0;
let current: CallRecord | undefined;
/** The record a `params` stage event binds to (call() emits it synchronously). */
let binding: CallRecord | undefined;

// ---------------------------------------------------------------------------------------
// DOM helpers.

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

type Child = Node | string | null | undefined | false;
function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

const SECRET_KEY = /secret|appkey|privatekey|private_key|reqkey|reskey|password|^d$/i;
const REDACTED = '‹redacted›';

/** Deep copy with secret-named fields replaced, CryptoKeys described, nothing else changed. */
function redact(v: unknown, depth = 0): unknown {
  if (depth > 8) return '…';
  if (typeof CryptoKey !== 'undefined' && v instanceof CryptoKey) return `CryptoKey(${v.algorithm.name}, extractable: ${v.extractable})`;
  if (v instanceof Uint8Array) return `‹${v.length} bytes›`;
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(x, depth + 1);
    return out;
  }
  return v;
}

/** Replace any published secret that made it into a text (it never should). */
function scrub(text: string): string {
  let t = text;
  for (const s of secrets) if (s.length >= 6) t = t.split(s).join(REDACTED);
  return t;
}

const show = (v: unknown): string => scrub(typeof v === 'string' ? v : JSON.stringify(redact(v), null, 2) ?? String(v));
const ms = (n: number) => (n < 10 ? n.toFixed(1) : Math.round(n).toString()) + ' ms';
const clockTime = (d = new Date()) => d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');

function kv(rows: [string, string][], cls = 'kv'): HTMLDListElement {
  const dl = el('dl', { class: cls });
  for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, scrub(v)));
  return dl;
}

/** Header-style lines (`name: value`), as network inspectors show them. */
function lines(rows: [string, string][]): HTMLPreElement {
  const pre = el('pre', { class: 'lines' });
  rows.forEach(([k, v], i) => pre.append(el('span', { class: 'name' }, k + ':'), ' ' + scrub(v) + (i < rows.length - 1 ? '\n' : '')));
  return pre;
}

/** Response headers that say nothing about the call (transport and CORS noise). */
const NOISE_HEADERS = /^(connection|keep-alive|vary|access-control-.*|transfer-encoding)$/i;

// ---------------------------------------------------------------------------------------
// Clients.

function clientFor(d: PlaygroundDialect): Client {
  const existing = clients.get(d.name);
  if (existing) return existing;
  const base = fetchTransport({ baseUrl: `/gw/${d.name}` });
  const transport = faultyTransport(base, faults, (req) => callWires.has(req), () => {
    const attempt = current?.attempts[current.attempts.length - 1];
    if (attempt) attempt.tampered = true;
    log('fault', 'one byte of this response was changed on its way to the client');
    renderFaults();
  });
  const client = createClient({ profile: d.profile(gatewayConfig[d.name]), transport, clock: skewedClock(faults), timeoutMs: 15_000 });
  client.events.on('stage', (e) => onStage(d, e));
  for (const name of EVENT_NAMES) {
    client.events.on(name, (detail) => {
      log(name, detail);
      if (current && current.dialect === d && !current.result) current.marks.push({ kind: name, t: performance.now(), data: detail });
      if (name === 'retry' && current?.dialect === d) {
        const last = current.attempts[current.attempts.length - 1];
        if (last) last.cause = (detail as ClientEventMap['retry']).cause;
      }
      renderState();
    });
  }
  clients.set(d.name, client);
  return client;
}

function onStage(d: PlaygroundDialect, e: ClientEventMap['stage']): void {
  if (e.stage === 'params' && binding && binding.dialect === d && binding.callId === undefined) {
    binding.callId = e.callId;
    binding = undefined;
  }
  const rec = current && current.dialect === d && current.callId === e.callId ? current : undefined;
  if (e.stage === 'sealed') callWires.add(e.data as WireRequest);
  if (!rec) return;
  rec.marks.push({ kind: e.stage, t: performance.now(), data: e.data });
  if (e.stage === 'params') rec.params = e.data;
  if (e.stage === 'sealed') rec.attempts.push({ sealed: e.data as WireRequest });
  if (e.stage === 'response') {
    const a = rec.attempts[rec.attempts.length - 1];
    if (a) a.response = e.data as WireResponse;
  }
  renderCall();
}

// ---------------------------------------------------------------------------------------
// Rendering the call.

const STAGES = ['params', 'signed', 'encrypted', 'wire request', 'wire response', 'opened'] as const;
type CardName = (typeof STAGES)[number];

interface Card {
  state: 'done' | 'pending' | 'failed' | 'idle';
  at?: number;
  note?: string;
  body?: Node;
}

function firstMark(rec: CallRecord, kind: Mark['kind'], attempt?: number): number | undefined {
  // The n-th occurrence of `kind` (attempt index), else the first.
  let n = 0;
  for (const m of rec.marks) {
    if (m.kind !== kind) continue;
    if (attempt === undefined || n === attempt) return m.t - rec.t0;
    n++;
  }
  return undefined;
}

function wireRequestView(wire: WireRequest): Node {
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(wire.headers)) rows.push([k, v]);
  const frag = document.createDocumentFragment();
  frag.append(el('p', { class: 'request-line' }, `${wire.method} /gw/${current?.dialect.name ?? ''}${wire.path}`), lines(rows), el('pre', { class: 'wire' }, scrub(wire.body ?? '')));
  return frag;
}

function wireResponseView(res: WireResponse): Node {
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(res.headers)) if (!NOISE_HEADERS.test(k)) rows.push([k, v]);
  const frag = document.createDocumentFragment();
  frag.append(el('p', { class: `request-line status-${Math.floor(res.status / 100)}xx` }, `HTTP ${res.status}`), lines(rows), el('pre', { class: 'wire' }, scrub(res.body)));
  return frag;
}

function viewNode(v: View): Node {
  const frag = document.createDocumentFragment();
  const body = v.rows.find(([k]) => k === 'body');
  frag.append(lines(v.rows.filter(([k]) => k !== 'body')));
  if (body) frag.append(el('pre', { class: 'wire' }, scrub(body[1])));
  return frag;
}

function cardsFor(rec: CallRecord): Record<CardName, Card> {
  const idx = rec.shownAttempt ?? rec.attempts.length - 1;
  const attempt = rec.attempts[idx];
  const failed = rec.result && !rec.result.ok ? rec.result.error : undefined;
  const sealedAt = firstMark(rec, 'sealed', idx);
  const responseAt = firstMark(rec, 'response', idx);
  const pendingOr = (cond: boolean): Card['state'] => (cond ? 'done' : failed ? 'failed' : 'pending');
  const cards = {} as Record<CardName, Card>;
  cards.params = { state: rec.params !== undefined ? 'done' : 'pending', at: firstMark(rec, 'params'), body: el('pre', { class: 'json' }, show(rec.params ?? '')) };
  if (attempt?.sealed) {
    const x = rec.dialect.explain(attempt.sealed);
    cards.signed = { state: 'done', at: sealedAt, note: x.signed.note, body: viewNode(x.signed) };
    cards.encrypted = { state: 'done', at: sealedAt, note: x.encrypted.note, body: viewNode(x.encrypted) };
    cards['wire request'] = { state: 'done', at: sealedAt, note: 'What the transport sends: exactly these bytes.', body: wireRequestView(attempt.sealed) };
  } else {
    for (const n of ['signed', 'encrypted', 'wire request'] as const) cards[n] = { state: pendingOr(false), note: failed ? `not sealed: ${failed.code}` : undefined };
  }
  if (attempt?.response) {
    cards['wire response'] = {
      state: 'done',
      at: responseAt,
      note: attempt.tampered ? 'Changed in transit by the playground (one byte).' : 'What came back, before any check.',
      body: wireResponseView(attempt.response),
    };
  } else {
    cards['wire response'] = { state: pendingOr(false), note: failed ? `no response: ${failed.code}` : undefined };
  }
  const lastAttempt = idx === rec.attempts.length - 1;
  if (rec.result?.ok && lastAttempt) {
    const undetected = attempt?.tampered ? ` Changed in transit and not detected: ${rec.dialect.name} does not authenticate responses.` : '';
    cards.opened = { state: 'done', at: firstMark(rec, 'opened'), note: rec.dialect.opened + undetected, body: el('pre', { class: 'json' }, show(rec.result.data)) };
  } else if (!lastAttempt) {
    cards.opened = { state: 'failed', note: `not used: ${attempt?.cause ?? 'retried'}, sent again (attempt ${idx + 2})` };
  } else if (failed) {
    cards.opened = { state: 'failed', at: firstMark(rec, 'error'), note: 'No data: the call failed and nothing from this response was used.', body: el('p', { class: 'error-code' }, failed.code) };
  } else {
    cards.opened = { state: 'pending' };
  }
  return cards;
}

function renderCall(): void {
  const rec = current;
  if (!rec) return;
  // Summary.
  const summary = $('summary');
  summary.replaceChildren();
  summary.append(el('span', { class: 'call-id' }, `#${rec.seq}`), el('span', { class: 'dialect-tag' }, rec.dialect.name), el('code', {}, rec.operationType));
  if (!rec.result) summary.append(el('span', { class: 'status pending' }, 'in flight…'));
  else if (rec.result.ok) summary.append(el('span', { class: 'status ok', 'data-testid': 'result' }, '✓ ok'), el('span', { class: 'muted' }, ms(rec.result.ms)));
  else {
    const err = rec.result.error;
    summary.append(
      el('span', { class: 'status fail', 'data-testid': 'result' }, `✗ ${err.code}`),
      el('span', { class: 'muted' }, ms(rec.result.ms)),
      // (mgs's hint is the gateway's Tips, often already in the message: not said twice.)
      el('span', { class: 'hint' }, err.gatewayCode !== undefined ? `${err.message} (gatewayCode ${err.gatewayCode}).${err.message.includes(err.hint) ? '' : ' ' + err.hint}` : err.hint),
    );
  }
  const retries = rec.attempts.slice(0, -1).map((a) => a.cause ?? 'retry');
  if (retries.length) summary.append(el('span', { class: 'retries' }, `resent after ${retries.join(', ')}`));

  renderTiming(rec);

  // Attempt tabs, when the call was resent.
  const tabs = $('attempts');
  tabs.replaceChildren();
  if (rec.attempts.length > 1) {
    const shown = rec.shownAttempt ?? rec.attempts.length - 1;
    rec.attempts.forEach((a, i) => {
      const b = el('button', { type: 'button', class: 'tab', 'aria-pressed': String(i === shown) }, `attempt ${i + 1}` + (a.cause ? ` · ${a.cause}` : ''));
      b.addEventListener('click', () => {
        rec.shownAttempt = i;
        renderCall();
      });
      tabs.append(b);
    });
  }

  // Stage cards.
  const cards = cardsFor(rec);
  const grid = $('stages');
  grid.replaceChildren();
  STAGES.forEach((name, i) => {
    const c = cards[name];
    const card = el(
      'article',
      { class: 'stage', 'data-stage': name.replace(' ', '-'), 'data-state': c.state },
      el('header', {}, el('span', { class: 'dot' }), el('h3', {}, `${i + 1} · ${name}`), c.at !== undefined ? el('time', {}, '+' + ms(c.at)) : null),
      c.note ? el('p', { class: 'note' }, c.note) : null,
      c.body ?? null,
    );
    grid.append(card);
  });
}

/** One segment per step between two stage events, labelled with what happened in it. */
function renderTiming(rec: CallRecord): void {
  const stageMarks = rec.marks.filter((m) => ['params', 'sealed', 'response', 'opened', 'error'].includes(m.kind));
  const segments: { label: string; ms: number; kind: string }[] = [];
  for (let i = 1; i < stageMarks.length; i++) {
    const a = stageMarks[i - 1];
    const b = stageMarks[i];
    const between = rec.marks.filter((m) => m.t >= a.t && m.t <= b.t).map((m) => m.kind);
    let label: string;
    let kind: string;
    if (b.kind === 'sealed') {
      const what = between.includes('renewed') ? 'renew + seal' : between.includes('issued') ? 'issue + seal' : between.includes('clock-corrected') ? 'correct clock + seal' : 'seal';
      label = what;
      kind = a.kind === 'response' ? 'retry' : 'seal';
    } else if (b.kind === 'response') {
      label = 'network';
      kind = 'network';
    } else if (b.kind === 'opened') {
      label = 'open';
      kind = 'open';
    } else {
      label = a.kind === 'sealed' ? 'network ✗' : a.kind === 'response' ? 'open ✗' : 'seal ✗';
      kind = 'error';
    }
    segments.push({ label, ms: b.t - a.t, kind });
  }
  const box = $('timing');
  box.replaceChildren();
  if (!segments.length) return;
  const total = segments.reduce((s, x) => s + x.ms, 0) || 1;
  const bar = el('div', { class: 'bar' });
  const legend = el('ol', { class: 'legend' });
  for (const s of segments) {
    const seg = el('span', { class: `seg ${s.kind}`, title: `${s.label}: ${ms(s.ms)}` });
    seg.style.flexGrow = String(Math.max(s.ms / total, 0.02));
    bar.append(seg);
    legend.append(el('li', { class: s.kind }, el('span', { class: 'swatch' }), `${s.label} `, el('b', {}, ms(s.ms))));
  }
  box.append(bar, legend);
}

// ---------------------------------------------------------------------------------------
// Timeline and side panels.

/** `key value · key value`, times as clock times: easier to scan than JSON. */
function describe(detail: unknown): string {
  if (typeof detail === 'string') return detail;
  const r = redact(detail);
  if (!r || typeof r !== 'object') return String(r);
  return Object.entries(r as Record<string, unknown>)
    .map(([k, v]) => `${k} ${/At$/.test(k) && typeof v === 'number' ? clockTime(new Date(v)) : typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
}

function log(type: string, detail: unknown): void {
  const list = $('timeline');
  const text = scrub(describe(detail));
  const item = el('li', { 'data-type': type }, el('time', {}, clockTime()), el('span', { class: 'tag' }, type), el('code', {}, text));
  list.append(item);
  while (list.children.length > 200) list.firstElementChild?.remove();
  list.scrollTop = list.scrollHeight;
  const panel = list.closest('.timeline-panel');
  if (panel) panel.scrollTop = panel.scrollHeight;
}

async function renderState(): Promise<void> {
  const d = dialect;
  if (!d) return;
  const client = clients.get(d.name);
  const rows: [string, string][] = [['dialect', `${d.name} (${client?.profile.credentials ?? '?'})`]];
  const cred = client?.credentials?.peek();
  if (client?.profile.credentials === 'issued') {
    if (cred) {
      const described = client.profile.describe?.(cred.value) ?? {};
      for (const [k, v] of Object.entries(described)) rows.push([k, String(v)]);
      rows.push(['version', String(cred.version)]);
      if (cred.expiresAt) rows.push(['expires', new Date(cred.expiresAt).toLocaleTimeString()]);
    } else rows.push(['credential', 'none yet (issued on the first call)']);
    // Said from what is held: modern's keys are non-extractable CryptoKeys (raw bytes on pages without crypto.subtle); app-secret's secret is text.
    if (cred) {
      const values = cred.value && typeof cred.value === 'object' ? Object.values(cred.value as Record<string, unknown>) : [];
      const keys = values.filter((v) => typeof CryptoKey !== 'undefined' && v instanceof CryptoKey);
      rows.push(['store', keys.length && keys.every((k) => !(k as CryptoKey).extractable) ? 'IndexedDB (keys non-extractable)' : 'IndexedDB (the issued secret as plain data: readable by scripts on this page)']);
    } else rows.push(['store', 'IndexedDB']);
  } else {
    rows.push(['credential', 'static (in the profile options)']);
  }
  const offset = client?.clockOffset ?? 0;
  rows.push(['clock offset', Math.abs(offset) < 1000 ? `${Math.round(offset)} ms` : `${(offset / 1000).toFixed(1)} s`]);
  rows.push(['local skew', faults.skewMs ? `+${faults.skewMs / 60000} min (playground)` : 'none']);
  try {
    const stats = (await (await fetch(`/gw/${d.name}/__admin/stats`, { cache: 'no-store' })).json()) as { issuances: number; calls: number; rejections: Record<string, number> };
    rows.push(['gateway', `${stats.issuances} issuance(s), ${stats.calls} call(s)`]);
    const rej = Object.entries(stats.rejections).map(([k, v]) => `${k}×${v}`);
    if (rej.length) rows.push(['rejections', rej.join(' ')]);
  } catch {
    rows.push(['gateway', 'stats unavailable']);
  }
  if (d !== dialect) return;
  $('state').replaceWith(Object.assign(kv(rows, 'kv compact'), { id: 'state' }));
}

function renderPinned(): void {
  const d = dialect;
  if (!d) return;
  const config = gatewayConfig[d.name] ?? {};
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(config)) {
    if (!d.publicConfig.includes(k)) rows.push([k, REDACTED]);
    else if (k === 'serverKeys' && v && typeof v === 'object') {
      for (const [kid, jwk] of Object.entries(v as Record<string, JsonWebKey>)) rows.push([`serverKeys.${kid}`, `${jwk.kty} ${jwk.crv}\nx=${jwk.x}\ny=${jwk.y}`]);
    } else rows.push([k, typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  $('pinned').replaceWith(Object.assign(kv(rows, 'kv compact'), { id: 'pinned' }));
}

function renderFaults(): void {
  const tamper = $('fault-tamper');
  const net = $('fault-network');
  tamper.setAttribute('aria-pressed', String(faults.tamperNext));
  net.setAttribute('aria-pressed', String(faults.networkDown));
  $('skew-label').textContent = faults.skewMs ? `now +${faults.skewMs / 60000} min; press for +10 more` : '+10 min → clock-corrected';
  const on: string[] = [];
  if (faults.skewMs) on.push(`clock +${faults.skewMs / 60000} min${dialect && !dialect.timestamps ? ` (${dialect.name} sends no timestamp: no effect)` : ''}`);
  if (faults.tamperNext) on.push(`next response will be tampered${dialect && !dialect.authenticatesResponses ? ` (${dialect.name} does not authenticate responses: expect RESPONSE_UNREADABLE or changed data)` : ''}`);
  if (faults.networkDown) on.push('network down');
  $('fault-status').textContent = on.length ? 'Active: ' + on.join(' · ') : 'No fault active.';
  const expire = $<HTMLButtonElement>('fault-expire');
  const issued = dialect && clientFor(dialect).profile.credentials === 'issued';
  const forget = $<HTMLButtonElement>('forget');
  expire.disabled = forget.disabled = !issued;
  expire.title = issued ? '' : `${dialect?.name} credentials are static: nothing to expire`;
  forget.title = issued ? '' : `${dialect?.name} credentials are static: nothing stored to forget`;
}

// ---------------------------------------------------------------------------------------
// Actions.

function selectDialect(name: string): void {
  dialect = available.find((d) => d.name === name) ?? available[0];
  if (!dialect) return;
  clientFor(dialect);
  $('dialect-summary').textContent = dialect.summary;
  const op = $<HTMLSelectElement>('operation');
  op.replaceChildren(...Object.keys(dialect.operations).map((o) => el('option', { value: o }, o)));
  selectOperation(op.value);
  renderPinned();
  renderFaults();
  void renderState();
}

function selectOperation(op: string): void {
  if (!dialect) return;
  $<HTMLTextAreaElement>('params').value = JSON.stringify(dialect.operations[op] ?? {}, null, 2);
  $('params-error').textContent = '';
}

async function send(): Promise<void> {
  const d = dialect;
  // One call at a time: Ctrl+Enter must not start a second one while Send is disabled for the first.
  if (!d || $<HTMLButtonElement>('send').disabled) return;
  let params: Params;
  try {
    const parsed = JSON.parse($<HTMLTextAreaElement>('params').value || '{}');
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('params must be a JSON object');
    params = parsed as Params;
  } catch (e) {
    $('params-error').textContent = (e as Error).message;
    return;
  }
  $('params-error').textContent = '';
  const client = clientFor(d);
  const operationType = $<HTMLSelectElement>('operation').value;
  const rec: CallRecord = { seq: ++seq, dialect: d, operationType, t0: performance.now(), marks: [], attempts: [] };
  current = rec;
  binding = rec;
  log('call', `#${rec.seq} ${d.name} ${operationType}`);
  renderCall();
  // On a phone the result is below the controls: bring it into view.
  const summary = $('summary');
  if (summary.getBoundingClientRect().top > window.innerHeight - 80) summary.scrollIntoView({ block: 'start' });
  const button = $<HTMLButtonElement>('send');
  button.disabled = true;
  try {
    const data = await client.call(operationType, params);
    rec.result = { ok: true, data, ms: performance.now() - rec.t0 };
    log('ok', `#${rec.seq} in ${ms(rec.result.ms)}`);
  } catch (e) {
    const error = e instanceof RpcError ? e : new RpcError('NETWORK', String(e));
    rec.result = { ok: false, error, ms: performance.now() - rec.t0 };
    log('error', `#${rec.seq} ${error.code}: ${error.message}`);
  } finally {
    button.disabled = false;
    if (binding === rec) binding = undefined;
  }
  renderCall();
  renderFaults();
  await renderState();
}

async function expireAtGateway(): Promise<void> {
  if (!dialect) return;
  await fetch(`/gw/${dialect.name}/__admin/expire`, { method: 'POST', cache: 'no-store' });
  log('fault', `the ${dialect.name} gateway expired every credential it issued`);
  await renderState();
}

function wire(): void {
  $<HTMLSelectElement>('dialect').addEventListener('change', (e) => selectDialect((e.target as HTMLSelectElement).value));
  $<HTMLSelectElement>('operation').addEventListener('change', (e) => selectOperation((e.target as HTMLSelectElement).value));
  $<HTMLSelectElement>('latency').addEventListener('change', (e) => (faults.latencyMs = Number((e.target as HTMLSelectElement).value)));
  $('send').addEventListener('click', () => void send());
  $('params').addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') void send();
  });
  $('fault-expire').addEventListener('click', () => void expireAtGateway());
  $('fault-skew').addEventListener('click', () => {
    faults.skewMs += 10 * 60_000;
    log('fault', `the client's local clock now runs ${faults.skewMs / 60000} min ahead`);
    renderFaults();
    void renderState();
  });
  $('reset-clock').addEventListener('click', () => {
    faults.skewMs = 0;
    // The clients learned a correction for the skew; kept, it would now be wrong by as much
    // (the next call: CLOCK_SKEW, corrected back). New clients start from the device time,
    // and read their credentials from the store (no new issuance).
    clients.clear();
    log('fault', "the client's local clock is back to the device time (clients made anew: no correction kept)");
    renderFaults();
    void renderState();
  });
  $('fault-tamper').addEventListener('click', () => {
    faults.tamperNext = !faults.tamperNext;
    log('fault', faults.tamperNext ? 'the next response will get one byte changed' : 'tampering disarmed');
    renderFaults();
  });
  $('fault-network').addEventListener('click', () => {
    faults.networkDown = !faults.networkDown;
    log('fault', faults.networkDown ? 'network dropped: every send fails' : 'network back');
    renderFaults();
  });
  $('forget').addEventListener('click', async () => {
    const c = dialect && clients.get(dialect.name);
    await c?.credentials?.clear();
    log('fault', 'the stored credential was deleted (the next call issues a new one)');
    await renderState();
  });
  $('clear-timeline').addEventListener('click', () => $('timeline').replaceChildren());
}

async function start(): Promise<void> {
  wire();
  try {
    const res = await fetch('/gw/config', { cache: 'no-store' });
    gatewayConfig = (await res.json()) as typeof gatewayConfig;
  } catch {
    $('summary').textContent = 'The demo gateway is not running: start the playground with npm run dev.';
    return;
  }
  for (const [name, config] of Object.entries(gatewayConfig)) {
    const d = DIALECTS.find((x) => x.name === name);
    for (const [k, v] of Object.entries(config ?? {})) if (typeof v === 'string' && !d?.publicConfig.includes(k)) secrets.add(v);
  }
  available = DIALECTS.filter((d) => gatewayConfig[d.name]);
  const picker = $<HTMLSelectElement>('dialect');
  picker.replaceChildren(...available.map((d) => el('option', { value: d.name }, d.name)));
  const wanted = new URLSearchParams(location.search).get('dialect');
  if (wanted && available.some((d) => d.name === wanted)) picker.value = wanted;
  selectDialect(picker.value);
  $<HTMLButtonElement>('send').disabled = false;
  document.body.dataset.ready = 'true';
}

void start();
