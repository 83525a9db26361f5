/**
 * The stored credential record, versioned twice over:
 * - `schema`: the record format. Records of another schema (older releases wrote none)
 *   are recognised, ignored and re-issued, never trusted or crashed on.
 * - `version`: increases with every issuance; writers compare-and-swap on it, so a tab
 *   that renewed at the same time as another adopts the winner's record instead of
 *   overwriting it.
 */
import type { StoredCredential } from '../types.js';

/** The record format this release writes. */
export const CREDENTIAL_SCHEMA = 2;

export interface CredentialRecord<C = unknown> extends StoredCredential<C> {
  schema: number;
  /**
   * The value could not be persisted (e.g. DataCloneError on a CryptoKey): the store keeps
   * only the version and expiry, the value lives in this page's memory. Not usable elsewhere.
   */
  memoryOnly?: true;
}

export type RecordProblem = 'corrupt' | 'old-schema' | 'unknown-schema' | 'incomplete' | 'memory-only' | 'invalid-value';

export interface ReadRecord<C> {
  /** The usable credential, when the record is one. */
  record?: CredentialRecord<C>;
  /** Why a present record is not usable. */
  problem?: RecordProblem;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The version a stored record claims, for compare-and-swap: 0 for no record or one without
 * a usable version, so a corrupt record can always be replaced and versions only grow.
 */
export function versionOf(raw: unknown): number {
  try {
    if (!isObject(raw)) return 0;
    const v = raw.version;
    return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 0;
  } catch {
    return 0;
  }
}

/** Check a record read from a store; never throws. `validate` checks the dialect's value. */
export function readRecord<C>(raw: unknown, validate?: (value: unknown) => boolean): ReadRecord<C> {
  try {
    return check<C>(raw, validate);
  } catch {
    return { problem: 'corrupt' }; // e.g. a custom store that hands back an object with throwing getters
  }
}

function check<C>(raw: unknown, validate?: (value: unknown) => boolean): ReadRecord<C> {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) return { problem: 'corrupt' };
  const schema = raw.schema;
  if (schema === undefined || (typeof schema === 'number' && schema < CREDENTIAL_SCHEMA)) return { problem: 'old-schema' };
  if (schema !== CREDENTIAL_SCHEMA) return { problem: typeof schema === 'number' ? 'unknown-schema' : 'corrupt' };
  if (versionOf(raw) === 0) return { problem: 'corrupt' };
  const expiresAt = raw.expiresAt;
  if (expiresAt !== undefined && !(typeof expiresAt === 'number' && Number.isFinite(expiresAt))) return { problem: 'corrupt' };
  if (raw.memoryOnly === true) return { problem: 'memory-only' };
  if (raw.value === undefined || raw.value === null) return { problem: 'incomplete' };
  if (validate) {
    let ok = false;
    try {
      ok = validate(raw.value) === true;
    } catch {
      ok = false;
    }
    if (!ok) return { problem: 'invalid-value' };
  }
  return { record: raw as unknown as CredentialRecord<C> };
}

/** A new record of this schema. */
export function makeRecord<C>(version: number, value: C, expiresAt?: number): CredentialRecord<C> {
  const r: CredentialRecord<C> = { schema: CREDENTIAL_SCHEMA, version, value };
  if (expiresAt !== undefined) r.expiresAt = expiresAt;
  return r;
}

/** What can be persisted of a record whose value cannot: its version and expiry, no value. */
export function strippedRecord(record: StoredCredential<unknown>): CredentialRecord<never> {
  const r = { schema: CREDENTIAL_SCHEMA, version: versionOf(record), memoryOnly: true } as CredentialRecord<never>;
  if (typeof record.expiresAt === 'number') r.expiresAt = record.expiresAt;
  return r;
}

/** The DOMException / Error name of a storage failure (nothing else of it leaves this layer). */
export function errorName(e: unknown): string {
  if (e && typeof e === 'object' && typeof (e as { name?: unknown }).name === 'string') return (e as { name: string }).name;
  return 'Error';
}
