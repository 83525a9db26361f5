/** The CLI over an in-memory disk, for tests: `files` is all there is. */
import type { CliIo } from '../../src/server/cli.js';

export interface MemIo extends CliIo {
  out: string[];
  err: string[];
  /** The mode each write asked for. */
  modes: Map<string, number | undefined>;
}

/** Reads and writes `files`; `exclusive` is honoured; removeFile takes a file back; stdout/stderr are kept. */
export function memIo(files: Map<string, Uint8Array | string>): MemIo {
  const out: string[] = [];
  const err: string[] = [];
  const modes = new Map<string, number | undefined>();
  return {
    out,
    err,
    modes,
    readFile: async (p) => {
      const f = files.get(p);
      if (f === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
      return typeof f === 'string' ? new TextEncoder().encode(f) : f;
    },
    writeFile: async (p, d, opts = {}) => {
      if (opts.exclusive && files.has(p)) throw new Error(`EEXIST: file already exists, open '${p}'`);
      files.set(p, d);
      modes.set(p, opts.mode);
    },
    removeFile: async (p) => void files.delete(p),
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
  };
}
