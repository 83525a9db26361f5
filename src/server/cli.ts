/**
 * `sealed-rpc` command line (bin/sealed-rpc.js calls runCli from the built server
 * bundle). Kept here, not in bin/, so tests run it without a build. File access goes
 * through `io` (node:fs by default, loaded lazily so the server bundle still loads in
 * runtimes without node:fs until the CLI is actually used).
 */
import { utf8Decode } from '../codec/utf8.js';
import { RpcError } from '../errors.js';
import { generateRsaKeyPair, type RsaHash } from '../crypto/rsa.js';
import { verifyPackage } from '../package/verify.js';
import { signPackage, signPackageDetached } from './package-sign.js';

export interface CliIo {
  readFile(path: string): Promise<Uint8Array>;
  /** `exclusive`: fail if the file exists (keys are never overwritten); `mode` e.g. 0o600. */
  writeFile(path: string, data: Uint8Array | string, opts?: { mode?: number; exclusive?: boolean }): Promise<void>;
  /** Remove a file this run wrote (a key pair half-written is taken back). */
  removeFile?(path: string): Promise<void>;
  /** The file a path names (device and inode, through symlinks and hard links), or undefined where there is none. */
  fileId?(path: string): Promise<string | undefined>;
  stdout(text: string): void;
  stderr(text: string): void;
}

const USAGE = `usage:
  sealed-rpc sign-package <in.zip> --key <private.pem> -o <out.amr> [--hash SHA-1|SHA-256]
      write CERT.json (a signature per file) into the package
  sealed-rpc sign-package <in.zip> --key <private.pem> -o <out.sig> --detached [--hash …]
      write a detached signature (raw bytes) over the whole file instead
  sealed-rpc verify-package <in.amr> --pub <public.pem> [--hash …] [--signature <file.sig>] [--require <a.tar,index.html>]
      every file verified; --require: these must be in the package too
  sealed-rpc keygen-rsa -o <private.pem> --pub <public.pem> [--bits 2048]
      new RSA key pair: PKCS#8 private (mode 600), SPKI public; never overwrites
`;

async function nodeIo(): Promise<CliIo> {
  const fs = await import('node:fs/promises');
  return {
    readFile: async (p) => new Uint8Array(await fs.readFile(p)),
    writeFile: (p, data, o = {}) =>
      fs.writeFile(p, data, { ...(o.mode !== undefined ? { mode: o.mode } : {}), flag: o.exclusive ? 'wx' : 'w' }),
    removeFile: (p) => fs.rm(p, { force: true }),
    fileId: (p) =>
      fs.stat(p, { bigint: true }).then(
        (s) => `${s.dev}:${s.ino}`,
        () => undefined,
      ),
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
  };
}

class UsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['--key', '-o', '--out', '--hash', '--pub', '--signature', '--bits', '--require']);
const BOOL_FLAGS = new Set(['--detached', '-h', '--help']);

function parse(args: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (VALUE_FLAGS.has(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined || v === '') throw new UsageError(`${name} needs a value`);
      flags.set(name === '--out' ? '-o' : name, v);
    } else if (BOOL_FLAGS.has(name)) {
      if (eq > 0) throw new UsageError(`${name} takes no value (${a})`); // --detached=false must not mean --detached
      flags.set(name, true);
    } else if (a.startsWith('-') && a !== '-') {
      throw new UsageError(`unknown option ${a}`);
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

function str(p: Parsed, flag: string, required: true): string;
function str(p: Parsed, flag: string, required: false): string | undefined;
function str(p: Parsed, flag: string, required: boolean): string | undefined {
  const v = p.flags.get(flag);
  if (v === undefined && required) throw new UsageError(`${flag} is required`);
  return v === true ? undefined : v;
}

function hashOf(p: Parsed): RsaHash {
  const h = str(p, '--hash', false) ?? 'SHA-256';
  const norm = h.toUpperCase().replace(/^SHA(?=\d)/, 'SHA-');
  if (norm !== 'SHA-1' && norm !== 'SHA-256') throw new UsageError(`--hash must be SHA-1 or SHA-256, got ${h}`);
  return norm;
}

function onePositional(p: Parsed, what: string): string {
  if (p.positional.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return p.positional[0];
}

/** A file a flag names; a failure names both (EISDIR's own message names neither). */
async function readArg(io: CliIo, flag: string, path: string): Promise<Uint8Array> {
  try {
    return await io.readFile(path);
  } catch (e) {
    throw new Error(`${flag} ${path}: cannot read it (${(e as { code?: string }).code ?? (e instanceof Error ? e.message : String(e))})`);
  }
}

/** A key file: PEM text (strict UTF-8), so a DER or other binary file fails naming the flag. */
async function readKey(io: CliIo, flag: string, path: string): Promise<string> {
  const bytes = await readArg(io, flag, path);
  try {
    return utf8Decode(bytes);
  } catch {
    throw new Error(`${flag} ${path}: not a PEM text file (DER? convert it: openssl pkey -inform DER)`);
  }
}

/** The CLI's name for a key option in an error: the flag and its file, not the library's option name. */
function keyError(e: unknown, option: string, flag: string, path: string): unknown {
  if (!(e instanceof RpcError) || e.details?.option !== option || !e.message.startsWith(`${option}: `)) return e;
  return new RpcError(e.code, `${flag} ${path}: ${e.message.slice(option.length + 2)}`, { details: { option: flag }, cause: e });
}

/** Runs one command; resolves to the exit code (0 ok, 1 failed, 2 usage). Never rejects. */
export async function runCli(argv: string[], io?: CliIo): Promise<number> {
  const out = io ?? (await nodeIo());
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined) {
      out.stderr(USAGE); // a usage error (exit 2): stdout stays for what a script would read
      return 2;
    }
    if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
      out.stdout(USAGE);
      return 0;
    }
    const p = parse(rest);
    if (p.flags.has('--help') || p.flags.has('-h')) {
      out.stdout(USAGE);
      return 0;
    }
    switch (cmd) {
      case 'sign-package': {
        const input = onePositional(p, 'input package');
        const keyPath = str(p, '--key', true);
        const output = str(p, '-o', true);
        const hash = hashOf(p);
        // The output is written over whatever is there: never over the key (lost for good) or the input,
        // named another way either (./key.pem, a symlink or a hard link to it).
        const { resolve } = await import('node:path');
        const outId = await out.fileId?.(output);
        const same = async (path: string) => resolve(output) === resolve(path) || (outId !== undefined && outId === (await out.fileId?.(path)));
        if (await same(keyPath)) throw new UsageError('-o is the --key file; writing there would destroy the private key');
        if (await same(input)) throw new UsageError('-o is the input package; give another file');
        const [zip, key] = await Promise.all([readArg(out, 'input', input), readKey(out, '--key', keyPath)]);
        const signed = await (p.flags.has('--detached') ? signPackageDetached(zip, key, hash) : signPackage(zip, key, { hash })).catch((e: unknown) => {
          throw keyError(e, 'privateKeyPem', '--key', keyPath);
        });
        await out.writeFile(output, signed);
        out.stdout(`signed ${input} (${p.flags.has('--detached') ? 'detached' : 'CERT.json'}, ${hash}) -> ${output}\n`);
        return 0;
      }
      case 'verify-package': {
        const input = onePositional(p, 'package');
        const hash = hashOf(p); // a usage error before any file is read
        const pubPath = str(p, '--pub', true);
        const pub = await readKey(out, '--pub', pubPath);
        const sigPath = str(p, '--signature', false);
        const signature = sigPath === undefined ? undefined : await readArg(out, '--signature', sigPath);
        const required = str(p, '--require', false)?.split(',').filter((n) => n !== '');
        const { files } = await verifyPackage(await readArg(out, 'package', input), {
          publicKey: pub,
          hash,
          ...(signature ? { signature } : {}),
          ...(required ? { requiredFiles: required } : {}),
        }).catch((e: unknown) => {
          throw keyError(e, 'publicKey', '--pub', pubPath);
        });
        out.stdout(`verified ${input}: ${Object.keys(files).length} file(s)\n`);
        return 0;
      }
      case 'keygen-rsa': {
        const privPath = str(p, '-o', true);
        const pubPath = str(p, '--pub', true);
        if (p.positional.length > 0) throw new UsageError(`keygen-rsa takes no positional argument, got ${p.positional[0]} (the size is --bits)`);
        const bitsText = str(p, '--bits', false) ?? '2048';
        if (!/^[0-9]{1,5}$/.test(bitsText)) throw new UsageError(`--bits must be a whole number such as 2048 or 4096, got ${bitsText}`);
        const bits = Number(bitsText);
        const { privateKeyPem, publicKeyPem } = await generateRsaKeyPair(bits);
        await out.writeFile(privPath, privateKeyPem, { mode: 0o600, exclusive: true });
        try {
          await out.writeFile(pubPath, publicKeyPem, { exclusive: true });
        } catch (e) {
          // A private key whose public half was not written would be left to sign packages nothing verifies.
          await out.removeFile?.(privPath).catch(() => {});
          throw e;
        }
        out.stdout(`wrote ${privPath} (private, keep it secret) and ${pubPath} (public)\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${cmd}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      out.stderr(`sealed-rpc: ${e.message}\n${USAGE}`);
      return 2;
    }
    // RpcError messages name options and files, never key material.
    const msg = e instanceof RpcError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    out.stderr(`sealed-rpc: ${msg}\n`);
    return 1;
  }
}
