/**
 * Checks across keys that the schema cannot express. They read the substituted data defensively,
 * so they still run, and report, when the schema found other problems.
 */
import type { PathSegment } from './issues.js';
import { isLoopbackHost, parseListen } from './listen.js';
import { isPlainObject } from './references.js';
import type { SourceIssue } from './yaml-source.js';

export function checkSemantics(data: unknown): SourceIssue[] {
  if (!isPlainObject(data)) return [];
  return [...checkPrefixes(data), ...checkLoopback(data), ...checkClaims(data)];
}

/** Two upstreams with the same prefix would expose the same `prefix__tool` names. */
function checkPrefixes(data: Record<string, unknown>): SourceIssue[] {
  const servers = data['servers'];
  if (!isPlainObject(servers)) return [];
  const firstByPrefix = new Map<string, string>();
  const issues: SourceIssue[] = [];
  for (const [name, server] of Object.entries(servers)) {
    const explicit = isPlainObject(server) && typeof server['prefix'] === 'string' ? server['prefix'] : undefined;
    const prefix = explicit ?? name;
    const first = firstByPrefix.get(prefix);
    if (first === undefined) {
      firstByPrefix.set(prefix, name);
      continue;
    }
    issues.push({
      path: explicit === undefined ? ['servers', name] : ['servers', name, 'prefix'],
      message: prefix === '' ? `servers ${first} and ${name} both expose their tools unprefixed` : `servers ${first} and ${name} both expose tools as ${prefix}__<tool>`,
      hint: `set a different prefix: on one of them`,
      atKey: explicit === undefined,
    });
  }
  return issues;
}

function authMode(data: Record<string, unknown>): unknown {
  const gateway = data['gateway'];
  const auth = isPlainObject(gateway) ? gateway['auth'] : undefined;
  return isPlainObject(auth) && auth['mode'] !== undefined ? auth['mode'] : 'none';
}

/** Without authentication anyone who can reach the port acts as the default agent. */
function checkLoopback(data: Record<string, unknown>): SourceIssue[] {
  const gateway = data['gateway'];
  const listen = isPlainObject(gateway) ? gateway['listen'] : undefined;
  if (typeof listen !== 'string' || authMode(data) !== 'none') return [];
  const { host } = parseListen(listen);
  if (isLoopbackHost(host)) return [];
  return [{
    path: ['gateway', 'listen'],
    message: `auth mode none serves anyone who can reach ${host}; it is allowed on loopback addresses only`,
    hint: 'listen on 127.0.0.1, or set gateway.auth.mode: jwt',
  }];
}

const CLAIMS = /\$\{claims\.[^}]*\}/;

/** `${claims.X}` has nothing to refer to when callers are not authenticated. */
function checkClaims(data: Record<string, unknown>): SourceIssue[] {
  if (authMode(data) !== 'none' || !isPlainObject(data['agents'])) return [];
  const issues: SourceIssue[] = [];
  const visit = (value: unknown, path: PathSegment[]): void => {
    if (typeof value === 'string') {
      const match = CLAIMS.exec(value);
      if (match) {
        issues.push({
          path,
          message: `${match[0]} refers to JWT claims, but gateway.auth.mode is none`,
          hint: 'set gateway.auth.mode: jwt, or remove the reference',
        });
      }
    } else if (Array.isArray(value)) value.forEach((item, i) => visit(item, [...path, i]));
    else if (isPlainObject(value)) for (const [key, item] of Object.entries(value)) visit(item, [...path, key]);
  };
  for (const [agent, profile] of Object.entries(data['agents'])) {
    const rules = isPlainObject(profile) ? profile['rules'] : undefined;
    if (!Array.isArray(rules)) continue;
    rules.forEach((rule, i) => {
      if (isPlainObject(rule) && rule['where'] !== undefined) visit(rule['where'], ['agents', agent, 'rules', i, 'where']);
    });
  }
  return issues;
}
