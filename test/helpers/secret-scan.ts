/**
 * Gathers everything a user or a log could see (error messages, String(err),
 * JSON.stringify(err), hints, details, event payloads, console lines) and searches it for
 * secrets in every form they could leak in: raw text, hex (both cases), base64, base64url.
 */
import { toBase64, toBase64Url } from '../../src/codec/base64.js';
import { toHex } from '../../src/codec/hex.js';
import { utf8Encode } from '../../src/codec/utf8.js';
import type { Client } from '../../src/index.js';

export class OutputCollector {
  readonly lines: string[] = [];
  private restore: (() => void)[] = [];

  /** Capture console output for the duration (console lines are part of what must stay clean). */
  captureConsole(): void {
    for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const orig = console[m];
      console[m] = (...args: unknown[]) => {
        this.lines.push(args.map((a) => (typeof a === 'string' ? a : safeStringify(a))).join(' '));
      };
      this.restore.push(() => (console[m] = orig));
    }
  }

  stop(): void {
    for (const r of this.restore.splice(0)) r();
  }

  error(e: unknown): void {
    if (e instanceof Error) {
      this.lines.push(e.message, String(e), safeStringify(e), e.stack ?? '');
      const r = e as { hint?: string; details?: unknown; gatewayCode?: unknown };
      this.lines.push(String(r.hint ?? ''), safeStringify(r.details ?? ''), String(r.gatewayCode ?? ''));
    } else {
      this.lines.push(String(e), safeStringify(e));
    }
  }

  /** Every event the client emits (except `stage`, whose payloads are the wire data, checked separately). */
  events(client: Client): void {
    for (const t of ['issued', 'renewed', 'clock-corrected', 'retry', 'storage-fallback', 'stage'] as const) client.events.on(t, (d) => this.lines.push(t + ' ' + safeStringify(d)));
  }
}

/**
 * JSON text of anything, bytes written out as lower-case hex (never as a bare length: a
 * secret held as bytes in error details or an event payload must stay visible to the scan).
 * Buffer's own toJSON ({type:'Buffer',data:[…]}) runs before the replacer and prints the
 * decimal list, which `secretForms` covers too.
 */
export function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `Uint8Array(${x.length}) ${toHex(x)}` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** All the printable forms of a secret (text or bytes). */
export function secretForms(secret: string | Uint8Array): string[] {
  const bytes = typeof secret === 'string' ? utf8Encode(secret) : secret;
  const forms = [toHex(bytes), toHex(bytes).toUpperCase(), toBase64(bytes).replace(/=+$/, ''), toBase64Url(bytes)];
  if (typeof secret === 'string') forms.push(secret);
  // Bytes as a decimal list, the way JSON.stringify ('90,90,…' in an array) and
  // util.inspect ('90, 90, …' in Uint8Array(32) [ … ]) print them.
  else forms.push([...bytes].join(','), [...bytes].join(', '));
  // A long secret may leak in part: look for any 12-character window of its hex/base64 too.
  // base64 and base64url coincide when the bytes give no + or /: report each form once.
  return [...new Set(forms.filter((f) => f.length >= 8))];
}

/**
 * The text to search, twice: as printed, and with all whitespace removed, so a form the
 * printer broke over lines (util.inspect puts a long byte array over several lines, padded
 * into columns: '  90, 90,\n  90') is still found whole.
 */
function searchable(lines: string[]): { includes(f: string): boolean } {
  const text = lines.join('\n');
  const compact = text.replace(/\s+/g, '');
  return { includes: (f) => text.includes(f) || compact.includes(f.replace(/\s+/g, '')) };
}

export function findSecrets(lines: string[], secrets: Record<string, string | Uint8Array>): string[] {
  const text = searchable(lines);
  const found: string[] = [];
  for (const [name, s] of Object.entries(secrets)) for (const f of secretForms(s)) if (text.includes(f)) found.push(`${name} as ${f.slice(0, 6)}…`);
  return found;
}

// ---------------------------------------------------------------------------------------
// Added for the all-dialects scan (test/e2e/secrets-all-dialects.test.ts).

/** What a developer sees when they log an error object (Node's inspector: own fields, cause, stack). */
export function collectInspected(out: OutputCollector, e: unknown): void {
  out.lines.push(inspectValue(e));
}

let inspectImpl: ((v: unknown) => string) | undefined;

/** Load Node's util.inspect once (call before `collectInspected`); loaded on demand so browser tests never import node:util. */
export async function loadInspector(): Promise<void> {
  const util = await import('node:util');
  inspectImpl = (v) => util.inspect(v, { depth: 8, showHidden: false, getters: false });
}

function inspectValue(v: unknown): string {
  if (!inspectImpl) throw new Error('call loadInspector() first');
  return inspectImpl(v);
}

/** Every error, its inspector view, and a one-line summary; for scenarios run in a loop. */
export async function collectFailure(out: OutputCollector, p: Promise<unknown>, label: string): Promise<string> {
  try {
    await p;
    out.lines.push(`${label}: ok`);
    return 'ok';
  } catch (e) {
    out.error(e);
    collectInspected(out, e);
    const code = (e as { code?: string })?.code ?? 'not-an-RpcError';
    out.lines.push(`${label}: ${code}`);
    return code;
  }
}

/** Also the AES key bytes a legacy secret turns into (keyFrom md5/sha256/java-sha1prng/…), so derived keys are searched too. */
export async function withDerivedKeys(secrets: Record<string, string | Uint8Array>, keyFrom: import('../../src/crypto/kdf.js').KeyFrom): Promise<Record<string, string | Uint8Array>> {
  const { deriveAesKey } = await import('../../src/crypto/kdf.js');
  const out: Record<string, string | Uint8Array> = { ...secrets };
  for (const [name, s] of Object.entries(secrets)) {
    if (typeof s !== 'string') continue;
    try {
      out[`${name} (AES key under ${keyFrom})`] = await deriveAesKey(s, keyFrom);
    } catch {
      // not a key under this keyFrom (a config-error scenario): the text itself is searched
    }
  }
  return out;
}

/** Windows of a long secret's hex and base64 forms, to catch a partial leak (e.g. a truncated log line). */
export function secretWindows(secret: string | Uint8Array, width = 16): string[] {
  const forms = secretForms(secret);
  const out = new Set<string>();
  for (const f of forms) {
    if (f.length <= width) continue;
    for (let i = 0; i + width <= f.length; i += Math.max(1, Math.floor(width / 2))) out.add(f.slice(i, i + width));
  }
  return [...out];
}

/** findSecrets plus partial windows; returns what was found (name and a short prefix, never the secret). */
export function findSecretsDeep(lines: string[], secrets: Record<string, string | Uint8Array>, width = 16): string[] {
  const found = new Set(findSecrets(lines, secrets));
  const text = searchable(lines);
  for (const [name, s] of Object.entries(secrets)) for (const w of secretWindows(s, width)) if (text.includes(w)) found.add(`${name} (part) as ${w.slice(0, 6)}…`);
  return [...found];
}
