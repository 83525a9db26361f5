/** The page's half of the bench: `SealedRpcBench.runBench(fixtures, options)`, logging progress to the console. */
import { runBench, type Fixtures, type TimingOptions } from './core.ts';

export async function run(fixtures: Fixtures, options: TimingOptions) {
  return runBench(fixtures, { ...options, log: (line) => console.log('[bench] ' + line) });
}
export const info = () => ({ userAgent: navigator.userAgent, secure: globalThis.isSecureContext, subtle: !!globalThis.crypto?.subtle, toBase64: typeof (Uint8Array.prototype as any).toBase64 === 'function' });
