// Public exports of the gateway entry (`sealed-rpc/server`).
export { createGateway, OperationError, type Gateway, type GatewayCore, type GatewayOptions, type GatewayProfile, type GatewayStats, type OperationContext, type OperationHandler } from './gateway.js';
export { toNodeHandler, type NodeHandler, type NodeHandlerOptions } from './node.js';
export { modern, type ModernGatewayOptions } from './modern.js';
export { mgs, type MgsGatewayOptions } from './mgs.js';
export { appSecret, type AppSecretGatewayOptions } from './app-secret.js';
export { sortedSign, type SortedSignGatewayOptions } from './sorted-sign.js';
export { RpcError } from '../errors.js';
export { signRsaSha256, verifyPushCallback } from './push.js';
export { signPackage, signPackageDetached, type SignPackageOptions } from './package-sign.js';
export { generateRsaKeyPair, signRsa } from '../crypto/rsa.js';
export { generateSigningKeyPair } from '../crypto/ec.js';
export { runCli, type CliIo } from './cli.js';
// Opt-in: run the SDK's primitives on node:crypto in this process (same bytes; ~6x less CPU
// per small message than Node's WebCrypto). Call once at gateway start; it affects every
// sealed-rpc user in the process, so tests of the browser paths leave it off.
export { useNodeCrypto } from '../crypto/node.js';
