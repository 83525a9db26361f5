// Public exports of the gateway entry (`sealed-rpc/server`).
export { createGateway, OperationError, type Gateway, type GatewayCore, type GatewayOptions, type GatewayProfile, type GatewayStats, type OperationContext, type OperationHandler } from './gateway.js';
export { toNodeHandler, type NodeHandler, type NodeHandlerOptions } from './node.js';
export { modern, type ModernGatewayOptions } from './modern.js';
export { RpcError } from '../errors.js';
