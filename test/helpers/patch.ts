import { afterEach } from 'vitest';

/**
 * Undo-after-each-test for a test file: `patch(obj, key, fn)` replaces a method for one test,
 * `onRestore(fn)` queues any other undo. Both are undone after the test, last first.
 */
export function testPatches() {
  const restore: (() => void)[] = [];
  afterEach(() => {
    for (const r of restore.splice(0).reverse()) r();
  });
  return {
    patch<T extends object, K extends keyof T>(obj: T, key: K, replacement: T[K]): void {
      const original = obj[key];
      obj[key] = replacement;
      restore.push(() => (obj[key] = original));
    },
    onRestore(undo: () => void): void {
      restore.push(undo);
    },
  };
}
