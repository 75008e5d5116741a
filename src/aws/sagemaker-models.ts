import { DescribeModelCommand, type SageMakerClient } from '@aws-sdk/client-sagemaker';
import { errorNameOf, rethrowSdkError } from './sdk-errors.js';

/**
 * Whether a SageMaker model of this name exists (BuildManifest skips CreateModel for it). SageMaker
 * answers a missing model with a ValidationException "Could not find model …".
 */
export function sageMakerModelExists(client: SageMakerClient): (modelName: string) => Promise<boolean> {
  return async (modelName) => {
    try {
      await client.send(new DescribeModelCommand({ ModelName: modelName }));
      return true;
    } catch (error) {
      if (
        errorNameOf(error) === 'ValidationException' &&
        /could not find model/i.test((error as Error).message)
      ) {
        return false;
      }
      rethrowSdkError(error, `SageMaker DescribeModel ${modelName}`);
    }
  };
}
