/**
 * The playground's dialect table: adding a dialect is one entry here (and one in
 * examples/node-backend/demo-gateway.ts, which mounts its gateway at /gw/<name> and puts
 * its client options in /gw/config under the same name). A dialect appears in the picker
 * when both halves are there.
 */
import { appSecret, decodeTs, mgs, modern, sortedSign, type Params, type Profile, type WireRequest } from '../../src/index.js';

/** One panel of the inspector: a one-line explanation and name/value rows (monospace). */
export interface View {
  note: string;
  rows: [string, string][];
}

export interface PlaygroundDialect {
  /** Matches `/gw/<name>` and the key in `/gw/config`. */
  name: string;
  /** One line under the picker. */
  summary: string;
  /** The client profile, from the options the demo gateway published. */
  profile(config: Record<string, unknown>): Profile;
  /** Operations the demo gateway runs, with example params. */
  operations: Record<string, Params>;
  /** Config fields shown in the UI (everything else is a secret, never shown). */
  publicConfig: string[];
  /** What the sealed request signs, and what it encrypts (read from the wire request). */
  explain(wire: WireRequest): { signed: View; encrypted: View };
  /** Whether a changed response is detected (true) or may pass as different data. */
  authenticatesResponses: boolean;
  /** Whether requests carry a time the gateway checks (else "skew clock" changes nothing). */
  timestamps: boolean;
  /** What `open` did to the response, shown on the "opened" stage. */
  opened: string;
}

const OPERATIONS: Record<string, Params> = {
  '/echo': { hello: 'wörld', amount: '9.45' },
  '/sum': { a: '1', b: '2' },
  '/user/get': { id: '42' },
  '/fail': {},
};

const header = (wire: WireRequest, name: string): string => {
  const k = Object.keys(wire.headers).find((h) => h.toLowerCase() === name.toLowerCase());
  return k === undefined ? '' : wire.headers[k];
};

const short = (s: string, n = 14): string => (s.length > n ? s.slice(0, n) + '…' : s);

const isoOf = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : '?');

export const DIALECTS: PlaygroundDialect[] = [
  {
    name: 'modern',
    summary: 'ECDH P-256 issuance signed by the pinned gateway key; AES-256-GCM both ways.',
    profile: (c) => modern({ serverKeys: c.serverKeys as Record<string, JsonWebKey> }),
    operations: OPERATIONS,
    publicConfig: ['serverKeys'],
    authenticatesResponses: true,
    timestamps: true,
    opened: 'Decrypted and authenticated (AES-GCM, bound to this request’s nonce): what call() resolves to.',
    explain(wire) {
      const ts = header(wire, 'x-ts');
      return {
        signed: {
          note: 'No separate signature: the AES-GCM tag authenticates the body and, as AAD, appId\\nop\\nts\\nnonce.',
          rows: [
            ['x-app-id', header(wire, 'x-app-id')],
            ['x-op', header(wire, 'x-op')],
            ['x-ts', `${ts} (${isoOf(Number(ts))})`],
            ['x-nonce', header(wire, 'x-nonce')],
          ],
        },
        encrypted: {
          note: `body = b64u(iv12 ‖ AES-256-GCM(reqKey, {"id","params"}) ‖ tag16); ${globalThis.crypto?.subtle ? 'reqKey never leaves WebCrypto (a non-extractable CryptoKey).' : 'this page has no crypto.subtle (insecure origin): reqKey is held as bytes by the pure-JS path.'}`,
          rows: [
            ['cipher', 'AES-256-GCM, random 12-byte IV'],
            ['length', `${wire.body?.length ?? 0} chars`],
            ['body', wire.body ?? ''],
          ],
        },
      };
    },
  },
  {
    name: 'app-secret',
    summary: 'Issued appId/appSecret; each value AES(appSecret), MD5 sign, then every key and value AES(publicSecret).',
    profile: (c) => appSecret({ publicSecret: String(c.publicSecret) }),
    operations: OPERATIONS,
    publicConfig: [],
    authenticatesResponses: false,
    timestamps: false,
    opened: 'Decrypted with the issued appSecret (the dialect has no response MAC): what call() resolves to.',
    explain(wire) {
      const form = [...new URLSearchParams(wire.body ?? '')];
      return {
        signed: {
          note: 'sign = md5(inner ciphertexts in sorted key order + appSecret); it travels as one more form field, sealed by the outer layer like the rest.',
          rows: [
            ['digest', 'md5, lower-case hex'],
            ['signed fields', `${form.length - 1} (appId and the params, accessFrom included)`],
          ],
        },
        encrypted: {
          note: 'Two AES-ECB layers (base64): values under the issued appSecret, then every key and value under the publicSecret the app embeds.',
          rows: [...form.map(([k, v], i): [string, string] => [`field ${i + 1}`, `${short(k)} = ${short(v)}`]), ['body', wire.body ?? '']],
        },
      };
    },
  },
  {
    name: 'sorted-sign',
    summary: 'Static appId/appKey; timestamp + safeCode, MD5 over the sorted params, all of it AES-CBC(appKey) in `params`.',
    profile: (c) => sortedSign({ appId: String(c.appId), appKey: String(c.appKey) }),
    operations: OPERATIONS,
    publicConfig: ['appId'],
    authenticatesResponses: false,
    timestamps: true,
    opened: 'Decrypted with the appKey, safeCode echo checked (no MAC): what call() resolves to.',
    explain(wire) {
      const query = new URLSearchParams(wire.path.split('?')[1] ?? (wire.body ? (JSON.parse(wire.body) as Record<string, string>) : {}));
      const params = query.get('params') ?? '';
      return {
        signed: {
          note: 'signature = md5("k=v&…" of timestamp, safeCode and the params, sorted by key); it sits inside the encrypted params.',
          rows: [
            ['appId', query.get('appId') ?? ''],
            ['signature', 'inside params (only the appKey holder reads it)'],
          ],
        },
        encrypted: {
          note: 'params = hex(AES-128-CBC(appKey, IV = key, "timestamp=…&safeCode=…&<params>&signature=…")).',
          rows: [
            ['length', `${params.length} hex chars`],
            ['body', params],
          ],
        },
      };
    },
  },
  {
    name: 'mgs',
    summary: 'Mobile gateway: Operation-Type header, body signed as md5(input + secret); body not encrypted.',
    profile: (c) => mgs({ appId: String(c.appId), workspaceId: String(c.workspaceId), secret: String(c.secret) }),
    operations: OPERATIONS,
    publicConfig: ['appId', 'workspaceId'],
    authenticatesResponses: false,
    timestamps: true,
    opened: 'Parsed as JSON (mgs answers are neither encrypted nor signed): what call() resolves to.',
    explain(wire) {
      const ts = header(wire, 'Ts');
      let tsMs = NaN;
      try {
        tsMs = decodeTs(ts);
      } catch {
        /* shown as ? */
      }
      return {
        signed: {
          note: 'Sign = md5("Operation-Type=<op>&Request-Data=<base64(body)>&Ts=<Ts>" + secret); the secret is not shown.',
          rows: [
            ['Operation-Type', header(wire, 'Operation-Type')],
            ['Ts', `${ts} (${isoOf(tsMs)})`],
            ['Sign', header(wire, 'Sign')],
            ['signType', header(wire, 'signType')],
          ],
        },
        encrypted: {
          note: 'mgs does not encrypt: _requestBody travels as plain JSON (a container may seal it with another dialect).',
          rows: [['body', wire.body ?? '']],
        },
      };
    },
  },
];
