import { toBase64 } from './base64.js';

/** DER bytes as PEM: base64 in 64-character lines between BEGIN/END `label` lines. */
export function derToPem(der: Uint8Array, label: string): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
