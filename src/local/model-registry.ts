import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CreateModelRequest } from '../core/build-manifest-models.js';
import { InvalidInputError, SageMakerValidationError } from '../errors.js';

/** What the local registry keeps per model: CreateModel's own fields. */
export interface LocalModel {
  ModelName: string;
  PrimaryContainer: { Image: string; ModelDataUrl?: string; Environment?: Record<string, string> };
  CreationTime: string;
}

/**
 * The local stand-in for SageMaker's model list, kept in a JSON file so models persist between runs as
 * they do on AWS. A model is an image and an artifact; locally the image is either the URL of a running
 * container (`http://…`), or any other name, which means the built-in XGBoost server loads the artifact.
 */
export class LocalModelRegistry {
  /** Writes are read-modify-write of one file: run them one at a time (the Map creates models in parallel). */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async exists(name: string): Promise<boolean> {
    return (await this.load())[name] !== undefined;
  }

  async get(name: string): Promise<LocalModel> {
    const model = (await this.load())[name];
    if (!model) throw new SageMakerValidationError(`Could not find model "${name}".`);
    return model;
  }

  /** CreateModel: refuses an existing name, as SageMaker does. */
  create(request: Pick<CreateModelRequest, 'ModelName' | 'PrimaryContainer'>): Promise<{ ModelArn: string }> {
    return this.serialized(() => this.createNow(request));
  }

  private async createNow(request: Pick<CreateModelRequest, 'ModelName' | 'PrimaryContainer'>) {
    const models = await this.load();
    if (models[request.ModelName]) {
      throw new SageMakerValidationError(`Cannot create already existing model "${request.ModelName}".`);
    }
    if (!/^[a-zA-Z0-9]([-a-zA-Z0-9]{0,62})$/.test(request.ModelName)) {
      throw new InvalidInputError(`Invalid model name "${request.ModelName}"`);
    }
    models[request.ModelName] = {
      ModelName: request.ModelName,
      PrimaryContainer: request.PrimaryContainer,
      CreationTime: this.now().toISOString(),
    };
    await this.save(models);
    return { ModelArn: `arn:aws:sagemaker:local:000000000000:model/${request.ModelName.toLowerCase()}` };
  }

  /** Registers or replaces a model by name (the CLI's `--model` does this for the user's file). */
  put(model: Omit<LocalModel, 'CreationTime'>): Promise<void> {
    return this.serialized(async () => {
      const models = await this.load();
      models[model.ModelName] = { ...model, CreationTime: this.now().toISOString() };
      await this.save(models);
    });
  }

  private serialized<T>(write: () => Promise<T>): Promise<T> {
    const result = this.writes.then(write);
    this.writes = result.catch(() => undefined);
    return result;
  }

  private async load(): Promise<Record<string, LocalModel>> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as Record<string, LocalModel>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
  }

  private async save(models: Record<string, LocalModel>): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await writeFile(this.file, JSON.stringify(models, null, 2));
  }
}
