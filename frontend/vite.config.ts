/// <reference types="vitest/config" />
import { svelte } from '@sveltejs/vite-plugin-svelte';
import tailwindcss from '@tailwindcss/vite';
import { defineConfig } from 'vite';
import { swaggerUi } from './swagger-ui';

// `npm run dev` serves the UI with hot reload and proxies everything else to a
// running `notewell serve` (NOTEWELL_DEV_BACKEND, default http://127.0.0.1:8080).
const backend = process.env.NOTEWELL_DEV_BACKEND ?? 'http://127.0.0.1:8080';
const proxied = ['/api', '/v1', '/health', '/ready', '/openapi.json'];

export default defineConfig({
  plugins: [tailwindcss(), svelte(), swaggerUi()],
  build: {
    outDir: '../kernel/static/app',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      ...Object.fromEntries(proxied.map((path) => [path, { target: backend }])),
      '/socket.io': { target: backend, ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
});
