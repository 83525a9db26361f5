// The gateway's opt-in engine: the SDK's primitives on node:crypto (useNodeCrypto).
import 'fake-indexeddb/auto';
import { useNodeCrypto } from '../../src/crypto/node.js';

useNodeCrypto();
