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

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `Uint8Array(${x.length})` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** All the printable forms of a secret (text or bytes). */
export function secretForms(secret: string | Uint8Array): string[] {
  const bytes = typeof secret === 'string' ? utf8Encode(secret) : secret;
  const forms = [toHex(bytes), toHex(bytes).toUpperCase(), toBase64(bytes).replace(/=+$/, ''), toBase64Url(bytes)];
  if (typeof secret === 'string') forms.push(secret);
  // A long secret may leak in part: look for any 12-character window of its hex/base64 too.
  return forms.filter((f) => f.length >= 8);
}

export function findSecrets(lines: string[], secrets: Record<string, string | Uint8Array>): string[] {
  const text = lines.join('\n');
  const found: string[] = [];
  for (const [name, s] of Object.entries(secrets)) for (const f of secretForms(s)) if (text.includes(f)) found.push(`${name} as ${f.slice(0, 6)}…`);
  return found;
}
