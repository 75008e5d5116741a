/** Types of scripts/schema-types.mjs, for the test that checks the generated file is current. */
export declare const SCHEMA_TYPES_FILE: string;
export declare function generateSchemaTypes(): Promise<string>;
