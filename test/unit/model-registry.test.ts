import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalModelRegistry } from '../../src/local/model-registry.js';

describe('LocalModelRegistry', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'models-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every model when several are created at once, as the CreateModels Map does', async () => {
    const registry = new LocalModelRegistry(join(dir, 'models.json'));
    const names = ['m-a', 'm-b', 'm-c', 'm-d', 'm-e'];
    await Promise.all(
      names.map((ModelName) =>
        registry.create({ ModelName, PrimaryContainer: { Image: 'builtin' } as never }),
      ),
    );
    for (const name of names) expect(await registry.exists(name)).toBe(true);
  });

  it('refuses to create a model that exists, with the error SageMaker raises', async () => {
    const registry = new LocalModelRegistry(join(dir, 'models.json'));
    await registry.create({ ModelName: 'm', PrimaryContainer: { Image: 'builtin' } as never });
    await expect(
      registry.create({ ModelName: 'm', PrimaryContainer: { Image: 'builtin' } as never }),
    ).rejects.toMatchObject({
      name: 'SageMaker.AmazonSageMakerException',
      message: 'Cannot create already existing model "m".',
    });
  });
});
