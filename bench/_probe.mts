import * as ort from 'onnxruntime-node';

const s = await ort.InferenceSession.create(`${process.argv[2]}/onnx/model.onnx`, {
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
});
console.log(s.inputNames.slice(0, 6), s.inputNames.length, s.outputNames.slice(0, 3));
console.log(JSON.stringify(s.inputMetadata.slice(0, 5)));
