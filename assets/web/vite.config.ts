import { defineConfig } from 'vitest/config';

// The build is committed and embedded in the rtchat binary, and CI rebuilds it
// and diffs the result, so everything here must be deterministic: content
// hashes in file names, no timestamps, no source maps that embed local paths.
export default defineConfig({
  // Relative: the same build works at / and under /rtchat/, where rtchat
  // serves it when `--app` gives the root to the developer's own app.
  base: './',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: false,
    target: 'es2020',
  },
  server: {
    // `npm run dev` talks to a local `rtchat serve` on its default backend port.
    proxy: {
      '/socket.io': { target: 'http://127.0.0.1:3000', ws: true },
      '/api': 'http://127.0.0.1:3000',
      '/files': 'http://127.0.0.1:3000',
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
