/**
 * Worker entry points are compiled JavaScript: from the built tree (`dist/`) they sit beside their
 * module; from TypeScript sources (tests under vitest) we start the compiled twin in `dist/`, which
 * `make test` builds first.
 */
export function workerUrl(moduleUrl: string, file: string): URL {
  const here = new URL(moduleUrl);
  if (!here.pathname.endsWith('.ts')) return new URL(file, here);
  const marker = '/src/';
  const at = here.pathname.lastIndexOf(marker);
  if (at < 0) throw new Error(`cannot map ${here.pathname} to its compiled twin`);
  const root = here.pathname.slice(0, at);
  const dir = here.pathname.slice(at + 1, here.pathname.lastIndexOf('/') + 1);
  return new URL(`file://${root}/dist/${dir}${file}`);
}
