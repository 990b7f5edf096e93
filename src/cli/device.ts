// --device: onnxruntime execution providers by the names users know.
import { availableDevices } from '../engine/index.js';
import { RetrievalLensError } from '../engine/index.js';

const DEVICES = ['cpu', 'cuda', 'dml', 'coreml'];

/** undefined (CPU) or the providers for --device; an unavailable device is one clear line. */
export function executionProviders(device: string | undefined): string[] | undefined {
  if (device === undefined) return undefined;
  if (!DEVICES.includes(device)) throw new RetrievalLensError('BAD_INPUT', `--device takes ${DEVICES.join(', ')}; got "${device}"`);
  const available = availableDevices();
  if (!available.includes(device)) {
    throw new RetrievalLensError(
      'BAD_INPUT',
      `--device ${device} is not available in this onnxruntime build on this machine; available: ${available.join(', ')}`,
    );
  }
  return [device];
}
