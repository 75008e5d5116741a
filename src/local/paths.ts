import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's own files the local runner reads: the one state machine definition and the queries. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFINITION_PATH = join(PROJECT_ROOT, 'state-machines/batch-transform.asl.yml');
export const QUERIES_DIR = join(PROJECT_ROOT, 'queries');
