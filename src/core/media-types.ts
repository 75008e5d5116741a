/**
 * Media types: the one place a ContentType or Accept value is normalised and sorted into the formats
 * the pipeline knows. Everything that compares a media type calls {@link mediaType} first, so
 * `Text/CSV; charset=utf-8` and `text/csv` are one type everywhere.
 */

/**
 * The media type without its parameters, trimmed and lower-cased (media types are case-insensitive,
 * RFC 9110 §8.3.1): `Text/CSV; header=present` → `text/csv`.
 */
export function mediaType(value: string): string {
  const semicolon = value.indexOf(';');
  return (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
}

/** The parameters of a media type, names lower-cased: `text/csv; label_size=1` → `{ label_size: '1' }`. */
export function mediaTypeParameters(value: string): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const part of value.split(';').slice(1)) {
    const equals = part.indexOf('=');
    if (equals === -1) continue;
    parameters[part.slice(0, equals).trim().toLowerCase()] = part.slice(equals + 1).trim();
  }
  return parameters;
}

/** JSON and JSON Lines, under the names SageMaker's containers and Batch Transform use for them. */
const JSON_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/jsonlines',
  'application/x-jsonlines',
  'application/jsonl',
]);

/** Whether the type is one of the JSON Lines names (one JSON value per line). */
export function isJsonLines(value: string): boolean {
  const type = mediaType(value);
  return (
    type === 'application/jsonlines' || type === 'application/x-jsonlines' || type === 'application/jsonl'
  );
}

/** The record format a type names: `text/csv` → csv, JSON and JSON Lines → json; else undefined. */
export function recordFormatOf(value: string | undefined): 'csv' | 'json' | undefined {
  if (value === undefined || value === '') return undefined;
  const type = mediaType(value);
  if (type === 'text/csv') return 'csv';
  if (JSON_TYPES.has(type)) return 'json';
  return undefined;
}

/**
 * The format ParseResults joins record by record: text/csv, or JSON lines (`application/jsonlines`, or
 * `application/json` holding one value per line, as Batch Transform's SplitType Line sends it).
 */
export function resultsFormatOf(value: string): 'csv' | 'jsonlines' | undefined {
  const type = mediaType(value);
  if (type === 'text/csv') return 'csv';
  if (type === 'application/jsonlines' || type === 'application/json') return 'jsonlines';
  return undefined;
}

/**
 * The request format SageMaker's XGBoost container reads a type as (its data_utils names): csv or
 * libsvm; undefined for anything else (the container answers 415).
 */
export function xgboostRequestFormatOf(value: string): 'csv' | 'libsvm' | undefined {
  const type = mediaType(value);
  if (type === 'csv' || type === 'text/csv') return 'csv';
  if (type === 'libsvm' || type === 'text/libsvm' || type === 'text/x-libsvm') return 'libsvm';
  return undefined;
}
