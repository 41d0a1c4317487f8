import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

/** Writes `<file>.br` and `<file>.gz` beside every compressible output file, so the
 * server sends them as is (no compression at run time). zlib output is a pure function of
 * its input and settings (gzip's header has mtime 0), so the build stays byte-for-byte
 * reproducible, which `scripts/check-ui.sh` checks. */
function precompress(): Plugin {
  return {
    name: 'ferroflow-precompress',
    apply: 'build',
    writeBundle(options, bundle) {
      const dir = options.dir ?? 'dist';
      for (const name of Object.keys(bundle)) {
        if (!/\.(js|css|html|svg|json)$/.test(name)) continue;
        const path = join(dir, name);
        const data = readFileSync(path);
        if (data.length < 512) continue;
        writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
        writeFileSync(
          `${path}.br`,
          brotliCompressSync(data, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: 11,
              [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
            },
          }),
        );
      }
    },
  };
}

const target = process.env.FERROFLOW_URL ?? 'http://127.0.0.1:5000';

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  plugins: [precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
    // ECharts (parallel coordinates, scatter) is one lazily loaded chunk of ~570 KB
    // (~190 KB gzip) that only the comparison page downloads.
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': target,
      '/ajax-api': target,
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
