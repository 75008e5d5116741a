/**
 * Client options shared by every handler's SDK clients. The SDK honours AWS_ENDPOINT_URL and
 * AWS_ENDPOINT_URL_<SERVICE> by itself; S3 additionally needs path-style addressing when pointed at an
 * emulator (moto_server, LocalStack) whose host name cannot take the bucket as a subdomain.
 */
export function s3ClientOptions(env: Record<string, string | undefined> = process.env): {
  forcePathStyle?: boolean;
} {
  return env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL ? { forcePathStyle: true } : {};
}
