import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderConfigJsonSchema } from '../../src/config/index.js';

const CHECKED_IN = new URL('../../config/portcullis.schema.json', import.meta.url);

describe('config/portcullis.schema.json', () => {
  it('equals the schema generated from ConfigSchema (run `npm run schema` after changing schema.ts)', async () => {
    expect(await readFile(CHECKED_IN, 'utf8')).toBe(renderConfigJsonSchema());
  });

  it('describes what may be written: durations and sizes as strings, unknown keys forbidden', () => {
    const schema = JSON.parse(renderConfigJsonSchema()) as {
      additionalProperties: boolean;
      properties: { gateway: { properties: { limits: { properties: { callTimeout: { type: string[] } } } } } };
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.gateway.properties.limits.properties.callTimeout.type).toEqual(['string', 'number']);
  });
});
