// The gateway's opt-in engine: the SDK's primitives on node:crypto (useNodeCrypto).
import 'fake-indexeddb/auto';
import { useNodeCrypto } from '../../src/crypto/node.js';
import { native } from '../../src/crypto/provider.js';

useNodeCrypto();

// Without this guard the project passes on the default engine too (the same tests, the same
// bytes): fail setup unless the node:crypto engine is the one the primitives will use.
const engine = native();
if (engine === undefined) throw new Error('node-crypto setup failed: no native engine installed (useNodeCrypto not active)');
// ecbBlocks is what only the node:crypto engine has (the batch ECB the app-secret gateway uses).
if (typeof engine.ecbBlocks !== 'function') throw new Error('node-crypto setup failed: the installed native engine is not the node:crypto one');
