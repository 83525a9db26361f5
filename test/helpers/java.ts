/**
 * The Java interop tests' JDK plumbing: compile sources with javac into a temp dir, start a
 * Java server that prints "PORT n", stop it. Without a JDK these fail, never skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppSecretOptions } from '../../src/profiles/app-secret.js';
import type { SortedSignOptions } from '../../src/profiles/sorted-sign.js';

/** Small, fast-starting JVMs: the tests start several on 2 cores. */
export const JVM = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Dfile.encoding=UTF-8'];

/** The .java files of these folders. */
export function javaSources(...dirs: string[]): string[] {
  return dirs.flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.java'))
      .map((f) => join(d, f)),
  );
}

/** Compiles `sources` into a new temp dir (named `prefix…`) and returns it. */
export function compileJava(prefix: string, sources: string[]): string {
  const probe = spawnSync('javac', ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error('javac was not found: the Java interop tests need a JDK 17+ on PATH (CI installs one). They fail rather than skip.');
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const compiled = spawnSync('javac', ['-encoding', 'UTF-8', '-d', dir, ...sources], { encoding: 'utf8', timeout: 120_000 });
  if (compiled.status !== 0) throw new Error(`javac failed:\n${compiled.stderr}`);
  return dir;
}

export interface JavaServer {
  proc: ChildProcess;
  url: string;
  /** What it wrote to stderr so far (for error messages). */
  stderr(): string;
}

/** Starts `main` from `classDir` and waits (30 s at most) for its "PORT n" line. */
export async function startJavaServer(classDir: string, main: string, args: string[]): Promise<JavaServer> {
  const proc = spawn('java', [...JVM, '-cp', classDir, main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${main} did not print its port in 30 s:\n${stderr}`)), 30_000);
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /PORT (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${main} exited (${code}):\n${stderr}`));
      });
    });
    return { proc, url: `http://127.0.0.1:${port}`, stderr: () => stderr };
  } catch (e) {
    await stopJava(proc);
    throw e;
  }
}

/** Stops a JVM and waits until it is gone (SIGKILL if SIGTERM has not ended it in 5 s), so its class dir can be deleted. */
export async function stopJava(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill();
  const force = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  try {
    await exited;
  } finally {
    clearTimeout(force);
  }
}

/** POST a form to a Java back end; anything but 200 throws, with `context` (e.g. its stderr) appended. */
export async function postForm(url: string, form: [string, string][], context = ''): Promise<string> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`Java ${new URL(url).pathname}: HTTP ${res.status} ${text}${context ? `\n${context}` : ''}`);
  return text;
}

/** Deterministic random bytes (a counter from `start`) that records every draw, so Java can be given the same IVs. */
export function recordingRandom(start: number) {
  let c = start;
  const draws: Uint8Array[] = [];
  const random = (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (c++ * 113 + 5) & 0xff;
    draws.push(b.slice());
    return b;
  };
  return { random, draws };
}

/**
 * The properties file test/interop/java/LegacyServer.java reads: one back end per variant,
 * mounted under /<name>, with the same options the SDK client of that variant gets.
 */
export function legacyServerProperties(appSecret: Record<string, AppSecretOptions>, sortedSign: Record<string, SortedSignOptions>): string {
  const lines = [`variants=${[...Object.keys(appSecret), ...Object.keys(sortedSign)].join(',')}`];
  const common = (name: string, o: AppSecretOptions | SortedSignOptions, d: Record<string, string>) => {
    lines.push(`${name}.cipher=${o.cipher ?? d.cipher}`, `${name}.keyFrom=${o.keyFrom ?? d.keyFrom}`, `${name}.encoding=${o.encoding ?? d.encoding}`, `${name}.digest=${o.digest ?? d.digest}`);
    lines.push(`${name}.iv=${typeof o.iv === 'string' ? o.iv : 'key'}`);
  };
  for (const [name, o] of Object.entries(appSecret)) {
    lines.push(`${name}.dialect=app-secret`, `${name}.publicSecret=${o.publicSecret}`);
    common(name, o, { cipher: 'AES-ECB', keyFrom: 'utf8', encoding: 'base64', digest: 'md5' });
  }
  for (const [name, o] of Object.entries(sortedSign)) {
    lines.push(`${name}.dialect=sorted-sign`, `${name}.apps=${o.appId}:${o.appKey}`, `${name}.signRule=${o.signRule ?? 'sorted'}`, `${name}.windowMs=5000`);
    common(name, o, { cipher: 'AES-CBC', keyFrom: 'utf8', encoding: 'hex', digest: 'md5' });
  }
  return lines.join('\n') + '\n';
}
