/**
 * Credential stores. `indexedDbStore` keeps records (CryptoKeys included: IndexedDB
 * stores them by structured clone, still non-extractable) with idb-keyval;
 * `memoryStore` keeps them for the life of the page.
 */
import { createStore, del, get, set, type UseStore } from 'idb-keyval';
import type { CredentialStore, StoredCredential } from '../types.js';

export function memoryStore(): CredentialStore {
  const map = new Map<string, StoredCredential>();
  return {
    kind: 'memory',
    async get<C>(key: string) {
      return map.get(key) as StoredCredential<C> | undefined;
    },
    async set<C>(key: string, value: StoredCredential<C>) {
      map.set(key, value);
    },
    async delete(key: string) {
      map.delete(key);
    },
  };
}

export interface IndexedDbStoreOptions {
  /** Database name (default `sealed-rpc`). */
  dbName?: string;
  /** Object store name (default `credentials`). */
  storeName?: string;
}

export function indexedDbStore(options: IndexedDbStoreOptions = {}): CredentialStore {
  const dbName = options.dbName ?? 'sealed-rpc';
  const storeName = options.storeName ?? 'credentials';
  // Opened on first use, not at construction: a page without IndexedDB still builds its client.
  let db: UseStore | undefined;
  const use = (): UseStore => {
    if (typeof indexedDB === 'undefined') throw new DOMException('IndexedDB is not available', 'NotSupportedError');
    return (db ??= createStore(dbName, storeName));
  };
  return {
    kind: 'indexeddb',
    get: <C>(key: string) => get<StoredCredential<C>>(key, use()),
    set: <C>(key: string, value: StoredCredential<C>) => set(key, value, use()),
    delete: (key: string) => del(key, use()),
  };
}

/**
 * Wraps a store so that a storage fault never breaks a call: on the first failure the
 * records move to memory and `onFallback` is told why (the error's name, nothing else).
 */
export function withMemoryFallback(primary: CredentialStore, onFallback: (reason: string) => void): CredentialStore {
  const memory = memoryStore();
  let active: CredentialStore = primary;
  const fallBack = (e: unknown) => {
    if (active === memory) return;
    active = memory;
    onFallback(e instanceof Error || e instanceof DOMException ? e.name : 'Error');
  };
  async function attempt<T>(op: (s: CredentialStore) => Promise<T>): Promise<T> {
    if (active !== memory) {
      try {
        return await op(active);
      } catch (e) {
        fallBack(e);
      }
    }
    return op(memory);
  }
  return {
    get kind() {
      return active.kind;
    },
    get: (key) => attempt((s) => s.get(key)),
    set: (key, value) => attempt((s) => s.set(key, value)),
    delete: (key) => attempt((s) => s.delete(key)),
  };
}
