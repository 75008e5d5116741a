/**
 * Input identity: what each input object was when the run was planned, so a later read can tell that it
 * changed. BuildManifest writes, next to each shard's manifest, the ETag and size of every object it
 * lists; the local transform engine and ParseResults check an object against it before reading it.
 * (SageMaker reads manifests only; the extra file beside them is ours.)
 */
import { InputChangedError } from '../errors.js';
import type { ObjectInfo, ObjectStore } from '../ports.js';

/** An object's recorded identity: the store's ETag (S3's, or size-mtime locally) and its size. */
export interface InputIdentity {
  etag: string;
  size: number;
}

/** The identities of one manifest's objects, by URI. */
export type InputIdentities = Record<string, InputIdentity>;

/** Where the identities of a manifest's objects are kept: `<manifest>.identities.json`, beside it. */
export function identitiesUriFor(manifestUri: string): string {
  return `${manifestUri.replace(/\.manifest$/, '')}.identities.json`;
}

/** The identity to record for an object: its ETag, or its size when the store gives none. */
export function identityOf(info: ObjectInfo): InputIdentity {
  return { etag: info.etag ?? `size:${info.size}`, size: info.size };
}

/** Records the identities of a manifest's objects, as listed when the run is planned. */
export async function writeInputIdentities(
  store: ObjectStore,
  manifestUri: string,
  objects: readonly ObjectInfo[],
): Promise<void> {
  const identities: InputIdentities = {};
  for (const object of objects) identities[object.uri] = identityOf(object);
  await store.put(identitiesUriFor(manifestUri), JSON.stringify(identities), {
    contentType: 'application/json',
  });
}

/**
 * The identities recorded for a manifest's objects, or `undefined` when none were (a manifest written by
 * an older plan, or one the user gave): then nothing can be checked.
 */
export async function readInputIdentities(
  store: ObjectStore,
  manifestUri: string,
): Promise<InputIdentities | undefined> {
  const uri = identitiesUriFor(manifestUri);
  if (!(await store.head(uri))) return undefined;
  return JSON.parse(Buffer.from(await store.getBytes(uri)).toString('utf8')) as InputIdentities;
}

/**
 * Checks an object's current state against its recorded identity.
 *
 * @param current what the store says now (`undefined`: the object is gone)
 * @throws InputChangedError naming the object when it vanished or its ETag or size differs.
 */
export function checkInputIdentity(
  uri: string,
  recorded: InputIdentity,
  current: ObjectInfo | undefined,
): void {
  if (!current) {
    throw new InputChangedError(
      `Input ${uri} was deleted after the run was planned; restore it or start a new run`,
    );
  }
  const now = identityOf(current);
  if (now.etag !== recorded.etag || now.size !== recorded.size) {
    throw new InputChangedError(
      `Input ${uri} changed since the run was planned (ETag ${recorded.etag}, ${recorded.size} bytes then; ` +
        `${now.etag}, ${now.size} bytes now); start a new run to use the new version`,
    );
  }
}

/** Heads an object and checks it against its recorded identity (nothing to check when none was recorded). */
export async function verifyInputIdentity(
  store: ObjectStore,
  uri: string,
  recorded: InputIdentity | undefined,
): Promise<void> {
  if (recorded) checkInputIdentity(uri, recorded, await store.head(uri));
}
