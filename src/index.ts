// Public exports of the client entry (`sealed-rpc`), nothing else.
export { createClient, type Client, type ClientOptions } from './client.js';
export { RpcError, isRpcError, HINTS, type RpcErrorCode, type RpcErrorOptions } from './errors.js';
export { ClientEvents, type ClientEventMap, type ClientEventType } from './events.js';
export { modern, type ModernOptions, type ModernCredential } from './profiles/modern.js';
export { fetchTransport, type FetchTransportOptions } from './transport/fetch.js';
export { appSecret, type AppSecretOptions, type AppSecretCredential, type AppSecretProfile } from './profiles/app-secret.js';
export { sortedSign, type SortedSignOptions, type SignRule } from './profiles/sorted-sign.js';
export type { LegacyOptions } from './profiles/legacy.js';
export { mgs, encodeTs, decodeTs, MGS_RESULT_CODES, type MgsOptions } from './profiles/mgs.js';
export { jsBridgeTransport, type JsBridgeTransportOptions } from './transport/jsbridge.js';
export { installRpcShim, type RpcShim, type RpcShimOptions } from './transport/shim.js';
export { indexedDbStore, memoryStore, type IndexedDbStoreOptions } from './credentials/store.js';
export type { CallOptions, Clock, CredentialStore, Params, Profile, ProfileContext, RandomBytes, Sealed, SendOptions, StoredCredential, Transport, WireRequest, WireResponse } from './types.js';
export { verifyPackage, loadPackage, type VerifyPackageOptions, type VerifiedPackage, type LoadPackageOptions, type LoadPackageResult } from './package/index.js';
export { verifyRsaSha256, verifyRsa, type RsaHash } from './crypto/rsa.js';
