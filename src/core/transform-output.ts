/**
 * Where Batch Transform writes the output for one input object: the input's key relative to the input
 * prefix (the S3Prefix URI, or a manifest's prefix), under S3OutputPath, with ".out" appended.
 *
 * @example transformOutputUri('s3://b/in/', 's3://b/in/day1/a.csv', 's3://b/out') === 's3://b/out/day1/a.csv.out'
 */
export function transformOutputUri(inputPrefix: string, inputUri: string, s3OutputPath: string): string {
  // SageMaker keeps the part of the key after the prefix; a prefix that is a whole key leaves the basename.
  const relative = inputUri.startsWith(inputPrefix)
    ? inputUri.slice(inputPrefix.length).replace(/^\/+/, '')
    : inputUri.slice(inputUri.lastIndexOf('/') + 1);
  const name = relative === '' ? inputUri.slice(inputUri.lastIndexOf('/') + 1) : relative;
  return `${s3OutputPath.replace(/\/+$/, '')}/${name}.out`;
}
