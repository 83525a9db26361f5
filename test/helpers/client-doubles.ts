/** Test doubles for the client: a static JSON dialect, an echoing transport, and the error a synchronous call throws. */
import type { RpcError } from '../../src/errors.js';
import type { CredentialStore, IssueResult, Profile, StoredCredential, Transport } from '../../src/types.js';

/** A static dialect that sends params as JSON and reads the answer as JSON. */
export const staticProfile: Profile = {
  name: 'test',
  credentials: 'static',
  storeKey: 'test',
  async seal(call) {
    return { wire: { path: '/x', method: 'POST', headers: {}, body: JSON.stringify(call.params), operationType: call.operationType }, state: undefined };
  },
  async open(res) {
    return JSON.parse(res.body);
  },
};

/** Answers every request with its own body (`{}` without one). */
export const echo: Transport = {
  async send(req) {
    return { status: 200, headers: {}, body: req.body ?? '{}' };
  },
};

/** The RpcError a synchronous call throws (undefined when it does not throw). */
export function thrown(f: () => unknown): RpcError | undefined {
  try {
    f();
  } catch (e) {
    return e as RpcError;
  }
  return undefined;
}

/** `staticProfile` as an issued dialect: `issue` sends one request to /issue, then returns `result()`. */
export function issuedProfile(storeKey: string, result: () => IssueResult = () => ({ value: 'c' })): Profile {
  return {
    ...staticProfile,
    credentials: 'issued',
    storeKey,
    async issue(ctx) {
      await ctx.send({ path: '/issue', method: 'POST', headers: {}, body: '{}', operationType: 'issue' });
      return result();
    },
  };
}

/** An app's own credential store on a Map (a native bridge, say), with some operations replaced. */
export function nativeStore(replace: Partial<CredentialStore> = {}): { map: Map<string, StoredCredential>; store: CredentialStore } {
  const map = new Map<string, StoredCredential>();
  const store: CredentialStore = {
    kind: 'native-bridge',
    get: async <C>(k: string) => map.get(k) as StoredCredential<C> | undefined,
    set: async (k, v) => void map.set(k, v as StoredCredential),
    delete: async (k) => void map.delete(k),
    ...replace,
  };
  return { map, store };
}
