// The gateway's opt-in engine: the SDK's primitives on node:crypto (useNodeCrypto).
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { useNodeCrypto } from '../../src/crypto/node.js';
import { native } from '../../src/crypto/provider.js';

useNodeCrypto();

// Without this guard the project passes on the default engine too (the same tests, the same
// bytes): fail setup unless the node:crypto engine is the one the primitives will use.
const engine = native();
if (engine === undefined) throw new Error('node-crypto setup failed: no native engine installed (useNodeCrypto not active)');
const probe = new TextEncoder().encode('node-crypto setup probe');
const got = Buffer.from(engine.digest('md5', probe)).toString('hex');
if (got !== createHash('md5').update(probe).digest('hex') || typeof engine.ecbBlocks !== 'function')
  throw new Error('node-crypto setup failed: the installed native engine is not the node:crypto one');
