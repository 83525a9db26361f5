/**
 * The credential lifecycle for issued dialects: load from the store, issue on first use,
 * renew when the gateway says the credential expired or when it reaches its expiry.
 * Single flight: concurrent callers share one issuance; across tabs, Web Locks (where the
 * browser has them) serialize issuance and the store is re-read inside the lock.
 */
import type { CredentialStore, StoredCredential } from '../types.js';

export interface IssueResult<C> {
  value: C;
  expiresAt?: number;
  serverTime?: number;
}

export interface CredentialManagerOptions<C> {
  store: CredentialStore;
  key: string;
  issue: () => Promise<IssueResult<C>>;
  /** Corrected time, to judge expiry. */
  now: () => number;
  /** Told after each issuance (first or renewal), with the issued record. */
  onIssued?: (record: StoredCredential<C>, result: IssueResult<C>, renewal: boolean) => void;
  /** Web Lock name; defaults to `sealed-rpc:<key>`. */
  lockName?: string;
}

/** Renew this long before `expiresAt`, so a request does not arrive just after expiry. */
const EXPIRY_MARGIN_MS = 2_000;

export class CredentialManager<C = unknown> {
  private cached: StoredCredential<C> | undefined;
  private inflight: Promise<StoredCredential<C>> | undefined;
  private loaded = false;

  constructor(private readonly o: CredentialManagerOptions<C>) {}

  private fresh(r: StoredCredential<C> | undefined): r is StoredCredential<C> {
    return r !== undefined && (r.expiresAt === undefined || this.o.now() < r.expiresAt - EXPIRY_MARGIN_MS);
  }

  /** The credential to use now: cached, stored, or freshly issued. */
  async current(): Promise<StoredCredential<C>> {
    if (this.fresh(this.cached)) return this.cached;
    if (this.inflight) return this.inflight;
    if (!this.loaded) {
      this.loaded = true;
      const stored = await this.o.store.get<C>(this.o.key).catch(() => undefined);
      if (this.fresh(stored) && !this.cached) this.cached = stored;
      if (this.fresh(this.cached)) return this.cached;
    }
    return this.renew(this.cached);
  }

  /**
   * Replace `stale` (the credential a failed call used). If another caller already
   * replaced it, that newer credential is returned and nothing is issued.
   */
  renew(stale: StoredCredential<C> | undefined, force = false): Promise<StoredCredential<C>> {
    if (this.inflight) return this.inflight;
    if (this.cached && stale && this.cached.version !== stale.version && this.fresh(this.cached)) return Promise.resolve(this.cached);
    const run = async (): Promise<StoredCredential<C>> => {
      // Another tab may have renewed while we waited for the lock: re-read the store.
      const stored = await this.o.store.get<C>(this.o.key).catch(() => undefined);
      if (!force && this.fresh(stored) && (!stale || stored.version !== stale.version)) return stored;
      const result = await this.o.issue();
      const version = Math.max(stored?.version ?? 0, this.cached?.version ?? 0, stale?.version ?? 0) + 1;
      const record: StoredCredential<C> = { version, value: result.value };
      if (result.expiresAt !== undefined) record.expiresAt = result.expiresAt;
      await this.o.store.set(this.o.key, record);
      this.o.onIssued?.(record, result, stale !== undefined);
      return record;
    };
    const p = this.withLock(run)
      .then((r) => {
        this.cached = r;
        return r;
      })
      .finally(() => {
        if (this.inflight === p) this.inflight = undefined;
      });
    this.inflight = p;
    return p;
  }

  /** Forget the credential (memory and store). */
  async clear(): Promise<void> {
    this.cached = undefined;
    await this.o.store.delete(this.o.key);
  }

  /** The credential in memory, if any (for the inspector). */
  peek(): StoredCredential<C> | undefined {
    return this.cached;
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
    if (!locks) return fn();
    return locks.request(this.o.lockName ?? `sealed-rpc:${this.o.key}`, { mode: 'exclusive' }, fn) as Promise<T>;
  }
}
