/**
 * Where berth's files are, whether it runs from its TypeScript sources (operator/*.ts through tsx) or from the bundle
 * `npm start`/`npm test` build (dist/*.js, scripts/build-operator.ts): both sit one directory below the package root,
 * so the schemas, the dashboard's assets and package.json are found the same way from either.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, with a trailing separator (a base for `new URL(relative, ROOT_URL)`). */
export const ROOT_URL = new URL('..', import.meta.url);
export const ROOT = fileURLToPath(ROOT_URL);

/** True when this code runs from dist/ (the bundle): child processes and worker threads then start from dist/ too. */
export const BUNDLED = !import.meta.url.endsWith('.ts');

/** A file of the package, by its path from the root ('schemas/node.schema.json'). */
export function rootFile(relative: string): URL {
  return new URL(relative, ROOT_URL);
}

/** The entry point of the CLI this process runs from: dist/cli.js in the bundle, operator/cli.ts from source. */
export const CLI = path.join(ROOT, BUNDLED ? 'dist/cli.js' : 'operator/cli.ts');
