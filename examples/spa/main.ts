/**
 * A single-page app's use of sealed-rpc: ESM import, typed calls, one error handler.
 * Served by `npm run dev` at /examples/spa/ (the dev server resolves `sealed-rpc` to this
 * package's source, src/index.ts; an app that installed it gets dist/sealed-rpc.js).
 */
import { createClient, fetchTransport, modern, RpcError, type Client } from 'sealed-rpc';

/** What the demo gateway's operations return (an app would share these types with its back end). */
interface SumResult {
  sum: string;
}
interface User {
  id: string;
  name: string;
  tier: 'gold' | 'silver';
}

const out = document.getElementById('out') as HTMLPreElement;
const print = (label: string, value: unknown) => {
  out.textContent += `${label}: ${typeof value === 'string' ? value : JSON.stringify(value)}\n`;
};

async function makeClient(): Promise<Client> {
  // A real app ships the gateway's public key with its code; the demo gateway makes a new one per start.
  const config = (await (await fetch('/gw/config')).json()) as { modern: { serverKeys: Record<string, JsonWebKey> } };
  return createClient({
    profile: modern({ serverKeys: config.modern.serverKeys }),
    transport: fetchTransport({ baseUrl: '/gw/modern' }),
    // store: indexedDbStore() is the default: the credential survives reloads.
  });
}

async function main(): Promise<void> {
  const client = await makeClient();
  client.events.on('issued', (e) => print('issued', `credential v${e.version}`));
  client.events.on('renewed', (e) => print('renewed', `credential v${e.version}`));

  const { sum } = await client.call<SumResult>('/sum', { a: '19.99', b: '0.01' }, { timeoutMs: 5000 });
  print('/sum', sum);

  const user = await client.call<User>('/user/get', { id: '42' });
  print('/user/get', `${user.name} (${user.tier})`);

  try {
    await client.call('/fail', {});
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    // `code` is stable: switch on it; `hint` is for people.
    switch (e.code) {
      case 'GATEWAY':
        print('/fail', `refused by the service: ${e.gatewayCode} (${e.message})`);
        break;
      case 'NETWORK':
      case 'TIMEOUT':
        print('/fail', `offline? ${e.hint}`);
        break;
      default:
        print('/fail', `${e.code}: ${e.hint}`);
    }
  }
  document.body.dataset.done = 'true';
}

main().catch((e: unknown) => {
  print('error', e instanceof RpcError ? `${e.code}: ${e.hint}` : String(e));
  document.body.dataset.done = 'error';
});
