// RegisterTable on AWS: the Glue catalog only.
import { GlueClient } from '@aws-sdk/client-glue';
import { GlueCatalog } from '../src/aws/glue-catalog.js';
import { createRegisterTableHandler } from '../src/steps/register-table.js';

const deps = { catalog: new GlueCatalog(new GlueClient({})) };

export const handler = createRegisterTableHandler(() => deps);
