// findOnnxFile / listDtypes on temp model folders built from stories260K's real ONNX file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findOnnxFile, listDtypes, externalDataLocations, normalizeDtype } from '../../src/engine/files.js';
import { RetrievalLensError } from '../../src/shared/errors.js';
import { onnx } from '../../src/engine/graph.js';
import { makeExternalDataCopy } from '../fixtures/externalData.js';
import { sharedModel, tempDir } from '../support/paths.js';

const srcOnnx = join(sharedModel('stories260K'), 'onnx', 'model.onnx');

/** A model folder whose onnx/ holds copies of stories260K's graph under the given names. */
function folder(files: string[]): string {
  const dir = tempDir('rl-files-');
  mkdirSync(join(dir, 'onnx'));
  for (const f of files) copyFileSync(srcOnnx, join(dir, 'onnx', f));
  return dir;
}

function rejects(fn: () => unknown, code: string, message: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RetrievalLensError, `expected RetrievalLensError, got ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

test('fp32 model.onnx is the default and has no external data', () => {
  const dir = folder(['model.onnx', 'model_fp16.onnx', 'model_q4.onnx']);
  const f = findOnnxFile(dir);
  assert.deepEqual(f, { path: join(dir, 'onnx', 'model.onnx'), file: 'onnx/model.onnx', dtype: 'fp32', externalData: [] });
  assert.deepEqual(listDtypes(dir), ['fp32', 'fp16', 'q4']);
  rmSync(dir, { recursive: true });
});

test('each dtype selects its suffix, as transformers.js names them', () => {
  const cases: [string, string, string][] = [
    ['fp16', 'model_fp16.onnx', 'fp16'],
    ['q8', 'model_quantized.onnx', 'q8'],
    ['quantized', 'model_quantized.onnx', 'q8'],
    ['int8', 'model_int8.onnx', 'int8'],
    ['uint8', 'model_uint8.onnx', 'uint8'],
    ['q4', 'model_q4.onnx', 'q4'],
    ['q4f16', 'model_q4f16.onnx', 'q4f16'],
    ['bnb4', 'model_bnb4.onnx', 'bnb4'],
  ];
  const dir = folder(['model.onnx', ...cases.map((c) => c[1])]);
  for (const [asked, file, dtype] of cases) {
    const f = findOnnxFile(dir, asked);
    assert.equal(f.file, `onnx/${file}`, asked);
    assert.equal(f.dtype, dtype, asked);
  }
  assert.equal(findOnnxFile(dir, 'auto').dtype, 'fp32');
  rmSync(dir, { recursive: true });
});

test('without fp32 the default is the first variant present, in preference order', () => {
  const dir = folder(['model_q4.onnx', 'model_quantized.onnx']);
  const f = findOnnxFile(dir);
  assert.equal(f.file, 'onnx/model_quantized.onnx');
  assert.equal(f.dtype, 'q8');
  rmSync(dir, { recursive: true });
});

test('decoder_model_merged is found when model.onnx is absent, and model.onnx wins when both exist', () => {
  const merged = folder(['decoder_model_merged.onnx', 'decoder_model_merged_fp16.onnx']);
  assert.equal(findOnnxFile(merged).file, 'onnx/decoder_model_merged.onnx');
  assert.equal(findOnnxFile(merged, 'fp16').file, 'onnx/decoder_model_merged_fp16.onnx');
  assert.deepEqual(listDtypes(merged), ['fp32', 'fp16']);
  const both = folder(['decoder_model_merged.onnx', 'model.onnx']);
  assert.equal(findOnnxFile(both).file, 'onnx/model.onnx');
  rmSync(merged, { recursive: true });
  rmSync(both, { recursive: true });
});

test('a dtype the folder lacks names the ones it has', () => {
  const dir = folder(['model_fp16.onnx', 'model_q4.onnx']);
  rejects(() => findOnnxFile(dir, 'fp32'), 'NOT_A_MODEL', /no fp32 ONNX file.*available dtypes: fp16, q4/);
  rejects(() => findOnnxFile(dir, 'bnb4'), 'NOT_A_MODEL', /model_bnb4\.onnx.*available dtypes: fp16, q4/);
  rejects(() => findOnnxFile(dir, 'fp64'), 'BAD_INPUT', /unknown dtype "fp64"; known: fp32, fp16/);
  rmSync(dir, { recursive: true });
});

test('a missing folder, a folder without onnx/ and one with unrelated ONNX files are told apart', () => {
  const dir = tempDir('rl-files-');
  rejects(() => findOnnxFile(join(dir, 'nope')), 'MODEL_NOT_FOUND', /model folder not found: .*nope/);
  rejects(() => findOnnxFile(dir), 'NOT_A_MODEL', /no ONNX decoder in .*onnx.*available dtypes: none/);
  const other = folder(['encoder_model.onnx', 'model.onnx.bak']);
  rejects(() => findOnnxFile(other), 'NOT_A_MODEL', /expected onnx\/model\.onnx or onnx\/decoder_model_merged\.onnx/);
  assert.deepEqual(listDtypes(other), []);
  rmSync(dir, { recursive: true });
  rmSync(other, { recursive: true });
});

test('external data: model.onnx_data is detected from the initializers, relative to the folder', () => {
  const dir = tempDir('rl-files-');
  const copy = makeExternalDataCopy(srcOnnx, join(dir, 'onnx'));
  assert.equal(copy.moved, 48);
  const f = findOnnxFile(dir);
  assert.equal(f.file, 'onnx/model.onnx');
  assert.deepEqual(f.externalData, ['onnx/model.onnx_data']);
  // The graph itself is small once the weights are out.
  const g = onnx.ModelProto.decode(readFileSync(f.path));
  assert.ok(g.graph!.initializer!.every((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL));
  rmSync(dir, { recursive: true });
});

test('external data in chunks: model_fp16.onnx_data, _data_1, _data_2', () => {
  const dir = tempDir('rl-files-');
  const src = join(dir, 'src', 'model_fp16.onnx');
  mkdirSync(join(dir, 'src'));
  copyFileSync(srcOnnx, src);
  makeExternalDataCopy(src, join(dir, 'onnx'), { chunks: 3 });
  const f = findOnnxFile(dir, 'fp16');
  assert.deepEqual(f.externalData, ['onnx/model_fp16.onnx_data', 'onnx/model_fp16.onnx_data_1', 'onnx/model_fp16.onnx_data_2']);
  rmSync(dir, { recursive: true });
});

test('a missing external-data file is reported by name', () => {
  const dir = tempDir('rl-files-');
  makeExternalDataCopy(srcOnnx, join(dir, 'onnx'), { chunks: 2 });
  rmSync(join(dir, 'onnx', 'model.onnx_data_1'));
  rejects(
    () => findOnnxFile(dir),
    'NOT_A_MODEL',
    /onnx\/model\.onnx keeps its weights in external data files that are missing: onnx\/model\.onnx_data_1/,
  );
  rmSync(dir, { recursive: true });
});

test('an external-data location outside the model folder is refused', () => {
  const dir = tempDir('rl-files-');
  mkdirSync(join(dir, 'onnx'));
  const model = onnx.ModelProto.decode(readFileSync(srcOnnx));
  const t = model.graph!.initializer![0];
  t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  t.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: '../../secrets.bin' })];
  t.rawData = new Uint8Array(0);
  writeFileSync(join(dir, 'onnx', 'model.onnx'), onnx.ModelProto.encode(model).finish());
  assert.deepEqual(externalDataLocations(join(dir, 'onnx', 'model.onnx')), ['../../secrets.bin']);
  rejects(() => findOnnxFile(dir), 'CORRUPT_ONNX', /outside the model folder \("\.\.\/\.\.\/secrets\.bin"\)/);
  rmSync(dir, { recursive: true });
});

test('a truncated ONNX file is reported as corrupt, not as a missing model', () => {
  const dir = folder([]);
  writeFileSync(join(dir, 'onnx', 'model.onnx'), readFileSync(srcOnnx).subarray(0, 5000));
  rejects(() => findOnnxFile(dir), 'CORRUPT_ONNX', /corrupt or truncated/);
  rmSync(dir, { recursive: true });
});

test('normalizeDtype maps aliases and auto', () => {
  assert.equal(normalizeDtype(undefined), undefined);
  assert.equal(normalizeDtype('auto'), undefined);
  assert.equal(normalizeDtype('quantized'), 'q8');
  assert.equal(normalizeDtype('q4f16'), 'q4f16');
});
