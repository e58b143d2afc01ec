/** A custom dataset for tests: the synthetic data with one NaN in the input of sample `nan_sample`. */
import { SyntheticDataset } from "../../src/data/synthetic.ts";
import type { DownscalingDataset, DownscalingItem } from "../../src/data/dataset.ts";
import { subset } from "../../src/data/subset.ts";

export class NanDataset {
  static async open(options: Record<string, unknown>): Promise<DownscalingDataset> {
    const { nan_sample, type: _t, ...rest } = options;
    const inner = SyntheticDataset.create({
      numSamples: rest.num_samples as number,
      imageShape: rest.image_shape as [number, number],
      upsampleFactor: rest.upsample_factor as number,
      inputVariables: rest.input_variables as string[],
      outputVariables: rest.output_variables as string[],
      invariantVariables: rest.invariant_variables as string[],
    });
    const ds = subset(inner, Array.from({ length: inner.length }, (_, i) => i));
    const item = ds.item;
    ds.item = async (i: number): Promise<DownscalingItem> => {
      const it = await item(i);
      if (i === nan_sample) it.input[3] = NaN;
      return it;
    };
    return await Promise.resolve(ds);
  }
}
