// Bundles the web page (src/web/public) into dist/web, served by the API under /app/ (src/web/serve.ts).
// `npm run build` runs it after tsc; the integration tests' global setup rebuilds it when the sources are newer.
// Everything is bundled from node_modules: no CDN, nothing fetched at run time from outside ReadFlow.
//
// The task page's viewer is Cornerstone3D (src/web/public/viewer.js, a chunk loaded on demand). Its DICOM image loader
// decodes in a module web worker (`new Worker(new URL('./decodeImageFrameWorker.js', import.meta.url), { type:
// 'module' })`), and the worker loads the codecs' WebAssembly (OpenJPEG, OpenJPH, CharLS, libjpeg-turbo, libjxl) through
// `new URL('<codec>/…wasm', import.meta.url)`: Vite emits the worker and the .wasm files as hashed assets under
// /app/assets/. The CSP allows exactly that (src/api/bootstrap.ts: 'wasm-unsafe-eval', worker-src 'self').
import { createLogger, defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('./src/web/public', import.meta.url));

// The codecs' Emscripten glue has a Node.js branch (`require('fs')`, `require('path')`) that never runs in a browser;
// Vite says so once per file and build. Those notices are dropped; every other warning is kept.
const logger = createLogger('warn');
const warn = logger.warn.bind(logger);
logger.warn = (msg, options) => {
  if (/has been externalized for browser compatibility/.test(msg) && /@cornerstonejs|@oozcitak/.test(msg)) return;
  warn(msg, options);
};

export default defineConfig({
  root,
  base: '/app/',
  publicDir: false,
  logLevel: 'warn',
  customLogger: logger,
  worker: { format: 'es' },
  optimizeDeps: {
    // `vite dev` only: the loader's worker and WASM URLs must stay relative to the package's own files.
    exclude: ['@cornerstonejs/dicom-image-loader'],
    include: ['dicom-parser'],
  },
  build: {
    outDir: fileURLToPath(new URL('./dist/web', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    chunkSizeWarningLimit: 8192,
  },
});
