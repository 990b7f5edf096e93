// The engine's public surface. Nothing above src/engine imports onnxruntime.
export * from './types.js';
export { RetrievalLensError, type ErrorCode } from '../shared/errors.js';
export { loadModel, describeModel, type EngineModel } from './model.js';
export { maskTensor } from './generate.js';
export { argmax, rng } from './sampling.js';
export { prefillChunkSize, DEFAULT_PREFILL_BUDGET_BYTES } from './runner.js';
export { defaultCacheDir } from './cache.js';
export { normalizeDtype } from './files.js';
export { availableProviders as availableDevices } from './session.js';
