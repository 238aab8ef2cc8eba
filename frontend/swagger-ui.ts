/**
 * A Vite plugin that puts swagger-ui-dist's bundle and stylesheet into the build, so
 * the API reference at /api/docs works offline: `assets/swagger-ui-<version>/…`. The
 * kernel's frontend plugin finds them there and points quart-schema at them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin } from 'vite';

const FILES = ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE', 'NOTICE'];
// the source maps are not shipped: drop the comments that point at them
const SOURCE_MAP = /\n?\/[/*][#@] sourceMappingURL=\S+?(\s*\*\/)?\s*$/;

export function swaggerUi(): Plugin {
  return {
    name: 'notewell-swagger-ui',
    apply: 'build',
    generateBundle() {
      const require = createRequire(import.meta.url);
      const manifest = require.resolve('swagger-ui-dist/package.json');
      const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
      const root = dirname(manifest);
      for (const file of FILES) {
        const text = readFileSync(join(root, file), 'utf8');
        this.emitFile({
          type: 'asset',
          fileName: `assets/swagger-ui-${version}/${file}`,
          source: text.replace(SOURCE_MAP, '\n'),
        });
      }
    },
  };
}
