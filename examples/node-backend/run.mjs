// Node 20 cannot run .ts files; this runs examples/node-backend/server.ts through Vite's
// module runner (Vite is a devDependency of this repository). Node >= 22.6 can instead run
// `node --experimental-strip-types examples/node-backend/server.ts`.
//   npm run build && node examples/node-backend/run.mjs
import { fileURLToPath } from 'node:url';
import { runnerImport } from 'vite';

const { module } = await runnerImport(fileURLToPath(new URL('./server.ts', import.meta.url)), { configFile: false, logLevel: 'warn' });
const s = await module.startExampleServer({ port: Number(process.env.PORT ?? 8787), host: process.env.HOST ?? '127.0.0.1' });
console.log(`sealed-rpc example back end: ${s.url}/ (gateway under /api)`);
