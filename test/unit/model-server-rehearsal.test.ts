import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rehearse } from '../../src/model-server/rehearsal.js';
import { loadXGBoostModel, type XGBoostModel } from '../../src/model-server/xgboost-model.js';

const SAMPLE_MODEL = join(import.meta.dirname, '../../examples/model/xgboost-model.json');

describe('a standby server’s rehearsal', () => {
  it('serves and stops, leaving nothing listening or open', async () => {
    const model = await loadXGBoostModel(SAMPLE_MODEL);
    const sockets = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap').length;
    const before = sockets();
    await rehearse(model);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sockets()).toBe(before);
  });

  it('never throws, even for a model no server can serve', async () => {
    await expect(rehearse({} as XGBoostModel)).resolves.toBeUndefined();
  });
});
