/**
 * The dashboard's files (ui/dist, built by scripts/build-ui.ts during provisioning): GET / is index.html (no-cache:
 * it names the current bundle), GET /ui/<name> a built asset (content-hashed names: cached for a year, immutable).
 * Open without credentials: they hold no data (the page asks for a token and calls the API with it). Read once at
 * start and kept in memory (a few hundred kB); a Content-Security-Policy allows only this origin.
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { ROOT } from '../root.ts';

export const UI_DIR = path.join(ROOT, 'ui/dist');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json' };
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
}

export interface UiFiles {
  /** True when it answered the request (a dashboard path). */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

/** The built files of `dir`; without a build, / answers 503 saying how to build it. */
export function uiFiles(dir = UI_DIR): UiFiles {
  const assets = new Map<string, Asset>();
  try {
    for (const name of fs.readdirSync(dir)) {
      const body = fs.readFileSync(path.join(dir, name));
      assets.set(name, { body, gzip: zlib.gzipSync(body, { level: 9 }), type: TYPES[path.extname(name)] ?? 'application/octet-stream' });
    }
  } catch {
    // not built: answered below
  }
  return {
    handle(req, res, p) {
      if (p !== '/' && !p.startsWith('/ui/')) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return true;
      }
      const name = p === '/' ? 'index.html' : p.slice('/ui/'.length);
      const asset = /^[\w.-]{1,100}$/.test(name) ? assets.get(name) : undefined;
      if (!asset) {
        const body = p === '/' ? 'the dashboard is not built: npm start (or bash scripts/provision.sh) builds it\n' : 'not found\n';
        res.writeHead(p === '/' ? 503 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
        return true;
      }
      const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      const body = gz ? asset.gzip : asset.body;
      res.writeHead(200, {
        'content-type': asset.type, 'content-length': body.length, vary: 'accept-encoding',
        'cache-control': name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable',
        'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
        ...(gz ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}
