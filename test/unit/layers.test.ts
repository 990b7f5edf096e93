// The layer rules of eslint.config.mjs fail on the imports they forbid (and pass the allowed ones),
// so `npm run lint` cannot quietly stop enforcing them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { repoRoot } from '../support/paths.js';

const eslint = new ESLint({ cwd: repoRoot, overrideConfigFile: join(repoRoot, 'eslint.config.mjs') });

async function violations(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: join(repoRoot, file) });
  return r.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('outside the engine only its index; onnxruntime only in the session file; vscode only in the extension', async () => {
  assert.match(
    (await violations('src/extension/x.ts', "import { Runner } from '../engine/runner.js';"))[0],
    /engine through its public surface/,
  );
  assert.match((await violations('src/method/x.ts', "import * as ort from 'onnxruntime-node';"))[0], /Only src\/engine\/session\.ts/);
  assert.match((await violations('src/engine/model.ts', "import * as ort from 'onnxruntime-node';"))[0], /Only src\/engine\/session\.ts/);
  assert.deepEqual(await violations('src/engine/session.ts', "import * as ort from 'onnxruntime-node';"), []);
  assert.match((await violations('src/cli/x.ts', "import * as vscode from 'vscode';"))[0], /vscode belongs to src\/extension/);
  assert.deepEqual(
    await violations('src/extension/x.ts', "import * as vscode from 'vscode';\nimport type { LoadedModel } from '../engine/index.js';"),
    [],
  );
});

test('no layer imports one above it; the webview imports src/shared only; no package sources', async () => {
  assert.match(
    (await violations('src/method/x.ts', "import { run } from '../cli/commands/detect.js';"))[0],
    /may not import cli, worker, extension/,
  );
  assert.match((await violations('src/engine/x.ts', "import { summarize } from '../method/aggregate.js';"))[0], /may not import method/);
  assert.match((await violations('src/shared/x.ts', "import { loadModel } from '../engine/index.js';"))[0], /may not import engine/);
  assert.match(
    (await violations('webview/x.ts', "import { loadModel } from '../src/engine/index.js';"))[0],
    /webview may import src\/shared only/,
  );
  assert.match((await violations('webview/x.ts', "import { readFileSync } from 'node:fs';"))[0], /no Node modules/);
  assert.deepEqual(await violations('webview/x.ts', "import { headId } from '../src/shared/webviewProtocol.js';"), []);
  assert.match(
    (await violations('src/engine/x.ts', "import * as hub from '../../node_modules/@huggingface/transformers/src/utils/hub.js';"))[0],
    /not its sources/,
  );
});
