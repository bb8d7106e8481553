/** Writes config/portcullis.schema.json from the zod schema (`npm run schema`). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_JSON_SCHEMA_PATH, renderConfigJsonSchema } from '../src/config/json-schema.js';

const target = fileURLToPath(new URL(`../${CONFIG_JSON_SCHEMA_PATH}`, import.meta.url));
writeFileSync(target, renderConfigJsonSchema());
console.log(`wrote ${CONFIG_JSON_SCHEMA_PATH}`);
