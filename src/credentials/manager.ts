/**
 * The credential lifecycle for issued dialects: load from the store, issue on first use,
 * renew when the gateway says the credential expired or when it reaches its expiry.
 *
 * Single flight: concurrent callers in a page share one issuance; across tabs a lock
 * (Web Locks, else a localStorage lease, see lock.ts) serializes issuance and the store is
 * re-read inside it. Whatever the lock does, the write is a compare-and-swap on the
 * record's `version`: a tab that loses the race adopts the winner's record instead of
 * overwriting it. Records carry a `schema`; a record of another schema, a corrupt one, or
 * one whose value this page cannot use is ignored and re-issued. A store that fails never
 * fails the call: the record is kept in memory.
 */
import type { CredentialStore, IssueResult, StoredCredential } from '../types.js';
import { defaultLock, type CrossTabLock } from './lock.js';
import { makeRecord, readRecord, versionOf, type CredentialRecord } from './record.js';
import { compareAndSetAny } from './store.js';

export interface CredentialManagerOptions<C> {
  store: CredentialStore;
  key: string;
  issue: () => Promise<IssueResult<C>>;
  /** Corrected time, to judge expiry. */
  now: () => number;
  /** Told after each issuance (first or renewal), with the issued record. */
  onIssued?: (record: StoredCredential<C>, renewal: boolean) => void;
  /** Lock name; defaults to `sealed-rpc:<key>`. */
  lockName?: string;
  /** The cross-tab lock (default: Web Locks, else a localStorage lease, else page-local). */
  lock?: CrossTabLock;
  /** Checks a stored value has the dialect's shape; a value that fails is re-issued. */
  validate?: (value: unknown) => boolean;
}

/** Renew this long before `expiresAt`, so a request does not arrive just after expiry. */
const EXPIRY_MARGIN_MS = 2_000;
/** Compare-and-swap attempts before the record is kept in memory only. */
const CAS_ATTEMPTS = 4;

export class CredentialManager<C = unknown> {
  private cached: StoredCredential<C> | undefined;
  private inflight: Promise<StoredCredential<C>> | undefined;
  /** The first read of the store, shared by every caller (so concurrent first calls read it once). */
  private loading: Promise<void> | undefined;
  /** Bumped by clear(): a store read or issuance begun before it neither caches nor stores what it got. */
  private generation = 0;
  /**
   * The highest version this page has seen, kept across clear(): versions only grow, so a call
   * that failed with a credential from before a logout never takes the one issued after it
   * (same number) for its own stale one, and issues over it.
   */
  private seen = 0;
  /** `seen` at the last clear(): a stale credential no newer than this was forgotten by a logout. */
  private seenAtClear = 0;
  /** clear()'s delete: a store read begun after clear() waits for it, so it cannot find the record the logout removes. */
  private deleting: Promise<void> | undefined;

  constructor(private readonly o: CredentialManagerOptions<C>) {}

  private fresh(r: StoredCredential<C> | undefined): r is StoredCredential<C> {
    return r !== undefined && (r.expiresAt === undefined || this.o.now() < r.expiresAt - EXPIRY_MARGIN_MS);
  }

  /** Read the store; faults and unusable records read as "nothing usable" (with the raw version, for the swap). */
  private async load(): Promise<{ record?: CredentialRecord<C>; version: number }> {
    let raw: unknown;
    await this.deleting;
    try {
      raw = await this.o.store.get<C>(this.o.key);
    } catch {
      return { version: 0 };
    }
    return { record: readRecord<C>(raw, this.o.validate).record, version: versionOf(raw) };
  }

  /** The credential to use now: cached, stored, or freshly issued. */
  async current(): Promise<StoredCredential<C>> {
    if (this.fresh(this.cached)) return this.cached;
    if (this.inflight) return this.inflight;
    const gen = this.generation;
    await (this.loading ??= this.load().then(({ record }) => {
      if (gen === this.generation && this.fresh(record) && !this.cached) this.cached = record;
    }));
    if (this.fresh(this.cached)) return this.cached;
    if (this.inflight) return this.inflight;
    return this.renew(this.cached);
  }

  /**
   * Replace `stale` (the credential a failed call used). If another caller (or tab) already
   * replaced it, that newer credential is returned and nothing is issued.
   */
  renew(stale: StoredCredential<C> | undefined, force = false): Promise<StoredCredential<C>> {
    // An issuance begun with no stale credential (a first call, a call after clear()) may end by
    // adopting the stored record, which can be this very one: then replace it after all.
    if (this.inflight) return stale ? this.inflight.then((r) => (r.version === stale.version ? this.renew(stale, force) : r)) : this.inflight;
    if (this.cached && stale && this.cached.version !== stale.version && this.fresh(this.cached)) return Promise.resolve(this.cached);
    const gen = this.generation;
    const cleared = () => gen !== this.generation;
    const run = async (): Promise<StoredCredential<C>> => {
      // Another tab may have renewed while we waited for the lock: re-read the store.
      const stored = await this.load();
      if (!force && this.fresh(stored.record) && (!stale || stored.record.version !== stale.version)) return stored.record;
      const result = await this.o.issue();
      // A credential this key held (expired on a reload, say) is replaced: a renewal, not a first issuance.
      // A stale one from before clear() is not held any more: what replaces it is the first after the logout.
      const renewal = (stale !== undefined && stale.version > this.seenAtClear) || stored.record !== undefined;
      let expectedVersion = stored.version;
      let version = Math.max(expectedVersion, this.cached?.version ?? 0, stale?.version ?? 0, this.seen) + 1;
      for (let attempt = 0; ; attempt++) {
        const record = makeRecord(version, result.value, result.expiresAt);
        // Cleared (logged out) since this began: the calls already waiting still get the credential
        // for their one call, as a request sent before the logout would have; nothing keeps it.
        if (cleared()) return record;
        const outcome = await this.write(expectedVersion, record);
        if (outcome === 'written') {
          if (cleared()) {
            // clear()'s delete may have landed before this write: delete again (deleting is what a logout wants).
            await this.o.store.delete(this.o.key).catch(() => {});
            return record;
          }
          this.o.onIssued?.(record, renewal);
          return record;
        }
        // Lost the race: another tab stored a record since we read. Adopt it if we can use it.
        const theirs = readRecord<C>(outcome.current, this.o.validate).record;
        if (this.fresh(theirs) && (!stale || theirs.version !== stale.version)) return theirs;
        expectedVersion = versionOf(outcome.current);
        version = Math.max(expectedVersion, version) + 1;
        if (attempt + 1 >= CAS_ATTEMPTS) {
          // The store keeps changing under us: use ours from memory, leave the store to the others.
          this.o.onIssued?.(record, renewal);
          return record;
        }
      }
    };
    const p = this.withLock(run)
      .then((r) => {
        this.seen = Math.max(this.seen, r.version);
        if (!cleared()) this.cached = r;
        return r;
      })
      .finally(() => {
        if (this.inflight === p) this.inflight = undefined;
      });
    this.inflight = p;
    return p;
  }

  /** Store `record` if the stored version is still `expectedVersion`; a failing store counts as written (memory keeps it). */
  private async write(expectedVersion: number, record: CredentialRecord<C>): Promise<'written' | { current: unknown }> {
    try {
      const r = await compareAndSetAny(this.o.store, this.o.key, expectedVersion, record);
      return r.ok ? 'written' : { current: r.current };
    } catch {
      return 'written';
    }
  }

  /**
   * Forget the credential (memory and store). An issuance in flight is not stopped, but what it
   * gets is neither stored nor cached, and calls made after this start an issuance of their own.
   */
  async clear(): Promise<void> {
    this.seen = Math.max(this.seen, this.cached?.version ?? 0);
    this.seenAtClear = this.seen;
    this.generation++;
    this.cached = undefined;
    this.inflight = undefined;
    // (A store that fails: nothing stored that we can reach.)
    await (this.deleting = this.o.store.delete(this.o.key).catch(() => {}));
  }

  /** The credential in memory, if any (for the inspector). */
  peek(): StoredCredential<C> | undefined {
    return this.cached;
  }

  /**
   * What JSON.stringify shows (an error reporter serializing the client): the credential's
   * version and expiry, never its value, and nothing of the store or the options.
   */
  toJSON(): Record<string, unknown> {
    const c = this.cached;
    return { credential: c ? { version: c.version, expiresAt: c.expiresAt, value: '[redacted]' } : null };
  }

  /** What Node's inspector (console.log, util.inspect) shows: the same redacted view. */
  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, unknown> {
    return this.toJSON();
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = this.o.lock ?? defaultLock();
    return lock.run(this.o.lockName ?? `sealed-rpc:${this.o.key}`, fn);
  }
}
