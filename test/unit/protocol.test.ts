// The two protocols without VS Code: host <-> worker message checks, webview message parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eta, sameModel, validateHostMessage, validateWorkerMessage } from '../../src/worker/protocol.js';
import { emptyState, parseFromWebview } from '../../src/shared/webviewProtocol.js';

test('validateHostMessage accepts requests and cancels, names what is wrong otherwise', () => {
  assert.equal(
    validateHostMessage({ type: 'request', id: 1, request: { kind: 'generate', model: { spec: '/m' }, prompt: 'x', maxNewTokens: 1 } }),
    null,
  );
  assert.equal(validateHostMessage({ type: 'cancel', id: 3 }), null);
  assert.match(validateHostMessage(null)!, /not an object/);
  assert.match(validateHostMessage({ type: 'run', id: 1 })!, /unknown message type/);
  assert.match(validateHostMessage({ type: 'cancel', id: 1.5 })!, /integer/);
  assert.match(
    validateHostMessage({ type: 'request', id: 1, request: { kind: 'train', model: { spec: '/m' } } })!,
    /unknown request kind "train"/,
  );
  assert.match(validateHostMessage({ type: 'request', id: 1, request: { kind: 'load', model: { spec: '' } } })!, /model\.spec/);
});

test('validateWorkerMessage', () => {
  assert.equal(validateWorkerMessage({ type: 'ready', pid: 4 }), null);
  assert.equal(validateWorkerMessage({ type: 'progress', id: 1, progress: { stage: 'run', done: 1, total: 2 } }), null);
  assert.equal(validateWorkerMessage({ type: 'result', id: 1, result: null }), null);
  assert.equal(validateWorkerMessage({ type: 'error', id: 1, error: { code: 'CANCELLED', message: 'cancelled' } }), null);
  assert.ok(validateWorkerMessage({ type: 'result', id: 1 }));
  assert.ok(validateWorkerMessage({ type: 'error', id: 1, error: {} }));
  assert.ok(validateWorkerMessage({ type: 'progress', id: 'a', progress: {} }));
});

test('sameModel decides when the worker reloads', () => {
  const a = { spec: '/m', dtype: 'fp32' };
  assert.equal(sameModel(a, { spec: '/m', dtype: 'fp32', executionProviders: ['cpu'] }), true);
  assert.equal(sameModel(a, { spec: '/m', dtype: 'fp16' }), false);
  assert.equal(sameModel(a, { spec: '/n', dtype: 'fp32' }), false);
  assert.equal(sameModel(a, { spec: '/m', dtype: 'fp32', threads: 2 }), false);
  assert.equal(sameModel(undefined, a), false);
});

test('eta extrapolates the rate so far', () => {
  assert.equal(eta(0, 1000, 0, 10), undefined);
  assert.equal(eta(0, 1000, 1, 10), 9000);
  assert.equal(eta(0, 1000, 10, 10), 0);
});

test('parseFromWebview keeps well-formed messages and drops the rest', () => {
  assert.deepEqual(parseFromWebview({ type: 'selectHead', head: { layer: 5, head: 5, extra: 1 } }), {
    type: 'selectHead',
    head: { layer: 5, head: 5 },
  });
  assert.deepEqual(parseFromWebview({ type: 'setMask', head: { layer: 0, head: 1 }, masked: true }), {
    type: 'setMask',
    head: { layer: 0, head: 1 },
    masked: true,
  });
  assert.deepEqual(parseFromWebview({ type: 'command', command: 'runAblation' }), { type: 'command', command: 'runAblation' });
  assert.deepEqual(
    parseFromWebview({ type: 'figure', figure: 'scoreMap', format: 'png', data: 'data:image/png;base64,AA' })?.type,
    'figure',
  );
  for (const bad of [
    null,
    'ready',
    { type: 'selectHead', head: { layer: -1, head: 0 } },
    { type: 'selectHead', head: { layer: 1.5, head: 0 } },
    { type: 'setMask', head: { layer: 0, head: 1 } },
    { type: 'setMaskMode', mode: 'half' },
    { type: 'setStep', step: -1 },
    { type: 'command', command: 'workbench.action.quit' },
    { type: 'figure', figure: 'scoreMap', format: 'gif', data: '' },
    { type: 'setTab', tab: 'settings' },
    { type: 'nope' },
  ]) {
    assert.equal(parseFromWebview(bad), null, JSON.stringify(bad));
  }
});

test('emptyState is a complete state the webview can render', () => {
  const s = emptyState();
  assert.equal(s.map, null);
  assert.deepEqual(s.masks, []);
  assert.equal(s.maskMode, 'uniform');
  assert.equal(s.maskScope, 'decode');
  assert.equal(s.tab, 'map');
});
