export { memoryStore, indexedDbStore, withMemoryFallback, type IndexedDbStoreOptions } from './store.js';
export { CredentialManager, type CredentialManagerOptions, type IssueResult } from './manager.js';
