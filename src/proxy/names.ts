/**
 * Exposed names: upstream tools and prompts are offered to clients as `<prefix>__<name>`, or
 * unprefixed when the server's prefix is the empty string. Resources keep their URIs.
 */
export const NAME_SEPARATOR = '__';

export function exposedName(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}${NAME_SEPARATOR}${name}`;
}
