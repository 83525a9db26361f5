export * from './provider.js';
export * from './digest.js';
export * from './aes.js';
export * from './kdf.js';
export * from './ec.js';
