export { memoryStore, indexedDbStore, withMemoryFallback, hasCompareAndSet, type IndexedDbStoreOptions, type AtomicCredentialStore, type CasResult } from './store.js';
export { CredentialManager, type CredentialManagerOptions, type IssueResult } from './manager.js';
export { createLock, defaultLock, LEASE_PREFIX, type CrossTabLock, type LockEnvironment, type LockKind, type LockManagerLike, type StorageLike } from './lock.js';
export { CREDENTIAL_SCHEMA, readRecord, versionOf, makeRecord, type CredentialRecord, type RecordProblem } from './record.js';
