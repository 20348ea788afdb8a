import onnxProto from 'onnx-proto';
import { FRAME_INPUT_NAME } from './contract.ts';
import type { FrameMlpWeights } from './trainer.ts';

const { onnx } = onnxProto;

/**
 * Writes a trained frame MLP as an ONNX model (ModelProto, irVersion 7, opset 13):
 *
 *   features [batch, D] → Gemm(W1, b1) → Relu → hidden
 *   hidden → Gemm(W_head, b_head) → action / speech / thought / emotion   (one Gemm per head)
 *
 * With `externalData`, every initializer's bytes go to one side file (data_location
 * EXTERNAL, the layout onnxruntime reads as `<model>.onnx.data` beside the model).
 */

export interface OnnxExportOptions {
  /** Model metadata (`metadata_props`), e.g. the version. */
  metadata?: Record<string, string>;
  /** Put initializer bytes into a side file with this name (relative to the model file). */
  externalData?: string;
  /** Override the input name (tests build wrong-contract models with it). */
  inputName?: string;
}

export interface OnnxExport {
  model: Uint8Array;
  /** The side file's bytes when `externalData` was requested. */
  externalData?: Uint8Array;
}

function floatBytes(a: Float32Array): Uint8Array {
  // Little-endian float32, as ONNX raw_data requires; copy so the buffer is exactly the tensor.
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i]!, true);
  return out;
}

/**
 * Builds the ONNX bytes for `weights`.
 *
 * @example
 * const { model } = exportFrameOnnx(weights, { metadata: { version: 'v1' } });
 * await writeFile('models/frame/v1/model.onnx', model);
 */
export function exportFrameOnnx(weights: FrameMlpWeights, options: OnnxExportOptions = {}): OnnxExport {
  const inputName = options.inputName ?? FRAME_INPUT_NAME;
  const sideChunks: Uint8Array[] = [];
  let sideOffset = 0;

  const initializer = (name: string, dims: number[], data: Float32Array): InstanceType<typeof onnx.TensorProto> => {
    const bytes = floatBytes(data);
    if (options.externalData === undefined) {
      return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    }
    const entry = onnx.TensorProto.create({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: options.externalData },
        { key: 'offset', value: String(sideOffset) },
        { key: 'length', value: String(bytes.length) },
      ],
    });
    sideChunks.push(bytes);
    sideOffset += bytes.length;
    return entry;
  };

  const valueInfo = (name: string, width: number) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] },
        },
      },
    });

  const gemm = (name: string, inputs: string[], output: string) => onnx.NodeProto.create({ name, opType: 'Gemm', input: inputs, output: [output] });

  const initializers = [initializer('W1', [weights.inputDim, weights.hidden], weights.w1), initializer('b1', [weights.hidden], weights.b1)];
  const nodes = [gemm('hidden_gemm', [inputName, 'W1', 'b1'], 'hidden_pre'), onnx.NodeProto.create({ name: 'hidden_relu', opType: 'Relu', input: ['hidden_pre'], output: ['hidden'] })];
  for (const head of weights.heads) {
    initializers.push(initializer(`W_${head.name}`, [weights.hidden, head.size], head.w), initializer(`b_${head.name}`, [head.size], head.b));
    nodes.push(gemm(`${head.name}_gemm`, ['hidden', `W_${head.name}`, `b_${head.name}`], head.name));
  }

  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'storyteller-models-build',
    producerVersion: '1',
    graph: {
      name: 'storyteller_frame_mlp',
      node: nodes,
      initializer: initializers,
      input: [valueInfo(inputName, weights.inputDim)],
      output: weights.heads.map((h) => valueInfo(h.name, h.size)),
    },
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  if (options.externalData === undefined) return { model: bytes };
  const side = new Uint8Array(sideOffset);
  let o = 0;
  for (const c of sideChunks) {
    side.set(c, o);
    o += c.length;
  }
  return { model: bytes, externalData: side };
}
