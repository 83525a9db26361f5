/** Node's half of the bench: fixtures (with the gateway half), the Node run with the node:crypto floor, and the gateway throughput run. */
import { runBench, type Fixtures, type RunOptions } from './core.ts';
import { nodeImpl } from './ref-node.js';

export { buildFixtures } from './fixtures.ts';
export { gatewayThroughputRun } from './throughput.ts';

export function runNode(fixtures: Fixtures, options: RunOptions) {
  return runBench(fixtures, { ...options, extra: [nodeImpl as any] });
}

// For ad-hoc profiling (`node --cpu-prof`) of one implementation.
export { sdkImpl, implFactories } from './core.ts';
export { cryptoJsImpl } from './ref-cryptojs.js';
export { nodeImpl };
