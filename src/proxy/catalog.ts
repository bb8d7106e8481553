/** The registry's current catalog in the shape the policy core's explain, lint and diff take. */
import type { CatalogTool, PolicyCatalog } from '../policy/index.js';
import type { UpstreamRegistry } from './upstream/registry.js';

/** What the registry exposes right now. */
export function policyCatalogOf(registry: UpstreamRegistry): PolicyCatalog {
  const tools: CatalogTool[] = [];
  for (const route of registry.tools()) {
    const properties = route.tool.inputSchema?.properties;
    const hint = route.tool.annotations?.readOnlyHint;
    tools.push({
      name: route.exposed,
      ...(hint === undefined ? {} : { readOnlyHint: hint }),
      annotationsTrusted: route.upstream.config.annotations === 'trusted',
      inputProperties: properties && typeof properties === 'object' ? Object.keys(properties) : [],
    });
  }
  // Templates (`docs://pages/{id}`) stand for the resources they expand to: resource rules are
  // judged against them too, so a rule covering only templated URIs does not "match nothing".
  const resources = [...[...registry.resources()].map((r) => r.resource.uri), ...[...registry.resourceTemplates()].map((t) => t.template.uriTemplate)];
  const prompts = [...registry.prompts()].map((p) => p.exposed);
  return { tools, resources: [...new Set(resources)], prompts };
}

