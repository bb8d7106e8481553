/** The JSON Schema editors use to complete and check portcullis.yaml, generated from ConfigSchema. */
import * as z from 'zod';
import { ConditionSchema, ConfigSchema } from './schema.js';

export const CONFIG_JSON_SCHEMA_PATH = 'config/portcullis.schema.json';

/**
 * The schema of what may be *written* (io: input): durations and sizes as strings, defaults
 * optional. Draft-07, the dialect editors' YAML plugins support most widely.
 */
export function renderConfigJsonSchema(): string {
  // A local registry names the recursive condition's definition without touching zod's global one.
  const metadata = z.registry<{ id?: string; description?: string }>();
  metadata.add(ConditionSchema, { id: 'Condition', description: 'A where-condition on one argument value (SPEC §4).' });
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any', target: 'draft-07', metadata });
  const titled = { ...schema, title: 'Portcullis configuration', description: 'portcullis.yaml: the gateway, its upstream MCP servers, agent policies, taint handling and approvals.' };
  return `${JSON.stringify(titled, null, 2)}\n`;
}
