/**
 * Where a field of a YAML document is, for errors that name file, line and field: the commissioning
 * file (cli/commissioning-file.ts) and meter profiles (meter/profile-file.ts) both report this way.
 * The `yaml` package is loaded on first use, so a device that never reads a YAML file never pays for it.
 */
import { createRequire } from 'node:module';
import type { Document } from 'yaml';

type YamlModule = typeof import('yaml');
let loaded: YamlModule | null = null;

/** The `yaml` package, loaded once on the first call. */
export function yamlModule(): YamlModule {
  loaded ??= createRequire(import.meta.url)('yaml') as YamlModule;
  return loaded;
}

/** The value at `path` in parsed data, or undefined where the data has none. */
export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/** `['points', 3, 'encoding']` → `points[3].encoding`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, i) =>
      typeof segment === 'number' ? `[${segment}]` : `${i > 0 ? '.' : ''}${String(segment)}`,
    )
    .join('');
}

/**
 * The line of the node at `path`: a mapping entry's key, a list item, or (for a path into what the
 * document does not have) the nearest enclosing node that it does have. `at` turns an offset into a
 * line (a LineCounter's).
 */
export function locate(doc: Document, path: readonly PropertyKey[], at: (offset: number) => number): number {
  const { isAlias, isMap, isScalar, isSeq } = yamlModule();
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === segment);
      if (!pair) break;
      offset = rangeStart(pair.key) ?? rangeStart(pair.value) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return at(offset);
}

function rangeStart(node: unknown): number | undefined {
  return (node as { range?: readonly number[] } | null)?.range?.[0];
}
