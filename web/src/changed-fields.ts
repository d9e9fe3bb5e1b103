/**
 * What a form changed: the members of the edited value that differ from the loaded one, as the
 * partial object a PATCH takes. Lists count as one value (a whitelist is sent whole or not at all).
 */
export function changes(base: object, next: object): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(next)) {
    const was = (base as Record<string, unknown>)[key];
    const diff =
      value && typeof value === 'object' && !Array.isArray(value)
        ? changes((was ?? {}) as object, value)
        : JSON.stringify(value) !== JSON.stringify(was)
          ? value
          : undefined;
    if (diff !== undefined) out[key] = diff;
  }
  return Object.keys(out).length ? out : undefined;
}
