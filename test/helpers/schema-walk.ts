import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SCHEMAS = join(import.meta.dirname, '../../schemas');

/** Where a `$ref` to a shared definition points: `definitions.schema.json#/definitions/<name>`. */
export const definitionRef = (name: string): string => `definitions.schema.json#/definitions/${name}`;

/** Every schema file in schemas/, parsed, by file name. */
export function schemaFiles(): Record<string, unknown> {
  return Object.fromEntries(
    readdirSync(SCHEMAS)
      .filter((file) => file.endsWith('.schema.json'))
      .sort()
      .map((file) => [file, JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8'))]),
  );
}

/** A property's schema found by {@link propertiesNamed}: its file, its JSON path, the schema itself. */
export interface FoundProperty {
  file: string;
  path: string;
  schema: Record<string, unknown>;
}

/**
 * Every property whose name is one of `names`, in the `properties` of any object schema of any file
 * except definitions.schema.json (the one home the others refer to).
 */
export function propertiesNamed(names: readonly string[]): FoundProperty[] {
  const found: FoundProperty[] = [];
  const walk = (file: string, path: string, node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'properties' && value !== null && typeof value === 'object') {
        for (const [name, schema] of Object.entries(value)) {
          if (names.includes(name))
            found.push({
              file,
              path: `${path}/properties/${name}`,
              schema: schema as Record<string, unknown>,
            });
        }
      }
      walk(file, `${path}/${key}`, value);
    }
  };
  for (const [file, schema] of Object.entries(schemaFiles())) {
    if (file !== 'definitions.schema.json') walk(file, '#', schema);
  }
  return found;
}

/** The schema at a JSON pointer (`#/properties/transform/...`) of a parsed schema file. */
export function schemaAt(schema: unknown, pointer: string): Record<string, unknown> {
  let node = schema;
  for (const part of pointer.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    node = (node as Record<string, unknown>)[part];
    if (node === undefined) throw new Error(`No schema at ${pointer}`);
  }
  return node as Record<string, unknown>;
}
