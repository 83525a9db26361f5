import { defineConfig, type Plugin } from 'vite';

/** Dev server: the playground page plus the embedded demo gateways under /gw. */
function gatewayPlugin(): Plugin {
  return {
    name: 'sealed-rpc-gateway',
    async configureServer(server) {
      const { demoMiddleware } = await import('./examples/node-backend/mount.js');
      const { middleware } = await demoMiddleware();
      server.middlewares.use(middleware);
    },
  };
}

// `vite build` -> client entry (ESM + IIFE global SealedRpc); `vite build --mode server` -> the gateway entry (ESM, Node).
export default defineConfig(({ mode }) => {
  if (mode === 'server') {
    return {
      build: {
        outDir: 'dist',
        emptyOutDir: false,
        target: 'node20',
        ssr: true,
        minify: false,
        lib: { entry: { server: 'src/server/index.ts' }, formats: ['es'], fileName: (_f, name) => `${name}.js` },
        rollupOptions: { external: [/^node:/, /^@noble\//, 'fflate', 'idb-keyval'], output: { chunkFileNames: 'chunks/server-[name]-[hash].js' } },
      },
    };
  }
  return {
    plugins: [gatewayPlugin()],
    server: { host: '127.0.0.1', port: 5173 },
    build: {
      outDir: 'dist',
      target: 'es2020',
      minify: true,
      sourcemap: true,
      // The pure-JS fallback is loaded on demand (pages with crypto.subtle never fetch it).
      rollupOptions: { output: { chunkFileNames: 'chunks/[name]-[hash].js' } },
      lib: {
        entry: 'src/index.ts',
        name: 'SealedRpc',
        formats: ['es', 'iife'],
        fileName: (format) => (format === 'es' ? 'sealed-rpc.js' : 'sealed-rpc.iife.js'),
      },
    },
  };
});
