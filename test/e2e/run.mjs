// End-to-end runner: sets up code-server (a real VS Code) once, builds and installs the extension,
// starts code-server on loopback with throwaway state, runs the scenario files with node's test
// runner against it, and always stops code-server's whole process group.
//
//   npm run test:e2e                 all scenarios (test/e2e/*.e2e.mjs)
//   npm run test:e2e -- smoke map    only files whose name contains "smoke" or "map"
//
// Env: E2E_SKIP_SETUP=1 / E2E_SKIP_BUILD=1 skip those steps; E2E_KEEP=1 keeps the temp folder.
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  openSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
// E2E_ARTIFACTS_DIR: somewhere else than test-artifacts/e2e (e.g. two runs at once).
const artifacts = path.resolve(process.env.E2E_ARTIFACTS_DIR ?? path.join(root, 'test-artifacts', 'e2e'));
const log = (line) => console.log(`[e2e] ${line}`);

function must(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`[e2e] ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`code-server exited (code ${child.exitCode}) before it answered; see ${path.join(artifacts, 'code-server.log')}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer ${url}/healthz within ${timeoutMs / 1000} s (${last})`);
}

/** A few paragraphs of public-domain text for the sample documents. */
function shakespeare() {
  for (const p of [
    path.join(root, 'data/haystack/shakespeare.txt'),
    path.resolve(root, '../shared/haystack/public-domain/shakespeare.txt'),
  ]) {
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  throw new Error('no shakespeare.txt found (data/haystack/ or ../shared/haystack/public-domain/)');
}

function makeWorkspace(dir) {
  mkdirSync(path.join(dir, '.vscode'), { recursive: true });
  const text = shakespeare().replace(/\r\n/g, '\n');
  // Whole speeches, cut at a blank line: ~5 KB (about 3,100 tokens of the bundled model).
  const cut = (n) => text.slice(0, text.indexOf('\n\n', n) + 1);
  writeFileSync(path.join(dir, 'coriolanus.txt'), cut(5000));
  // An ordinary document of about 2,000 tokens run whole: Romeo and Benvolio in Romeo and Juliet
  // 1.1, from "ROMEO: Is the day so young?" to the end of the scene's speech 3,100 characters on
  // (3,121 characters, 1,968 tokens of the bundled model: enough to fill every length of the
  // default grid, whose top length needs 1,920).
  const romeo = text.indexOf('\n\nROMEO:\nIs the day so young?') + 2;
  writeFileSync(path.join(dir, 'romeo.txt'), text.slice(romeo, text.indexOf('\n\n', romeo + 3100) + 1));
  // Longer than the bundled model's context when selected whole.
  writeFileSync(path.join(dir, 'long.txt'), cut(40000));
  writeFileSync(path.join(dir, 'empty.txt'), '');
  writeFileSync(path.join(dir, 'not-scores.json'), JSON.stringify({ hello: 'world' }, null, 2) + '\n');
  writeFileSync(path.join(dir, '.vscode', 'settings.json'), JSON.stringify({}, null, 2) + '\n');
}

/**
 * A copy of the bundled model whose first attention is one fused com.microsoft.Attention node (packed
 * weights, no probability output), as some exports have: selecting it must fail with an error naming the op.
 */
async function makeFusedModel(dir) {
  const { default: onnxProto } = await import('onnx-proto');
  const { onnx } = onnxProto;
  cpSync(path.join(root, 'models', 'needle-organism-2k'), dir, { recursive: true });
  const file = path.join(dir, 'onnx', 'model.onnx');
  const model = onnx.ModelProto.decode(readFileSync(file));
  const g = model.graph;
  const i = g.node.findIndex((n) => n.opType === 'Softmax');
  g.node[i] = onnx.NodeProto.create({
    opType: 'Attention',
    domain: 'com.microsoft',
    name: '/model/layers.0/attn/Attention',
    input: g.node[i].input,
    output: g.node[i].output,
  });
  model.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }));
  writeFileSync(file, onnx.ModelProto.encode(model).finish());
}

function userSettings(dataDir) {
  const dir = path.join(dataDir, 'User');
  mkdirSync(dir, { recursive: true });
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'security.workspace.trust.enabled': false,
    'files.simpleDialog.enable': true,
    'chat.disableAIFeatures': true,
    'editor.minimap.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'window.dialogStyle': 'custom',
    'git.enabled': false,
  };
  writeFileSync(path.join(dir, 'settings.json'), JSON.stringify(settings, null, 2) + '\n');
}

function scenarioFiles(filters) {
  const all = readdirSync(here)
    .filter((f) => f.endsWith('.e2e.mjs'))
    .sort();
  const picked = filters.length ? all.filter((f) => filters.some((x) => f.includes(x))) : all;
  if (!picked.length) throw new Error(`no scenario matches ${filters.join(', ')} (have: ${all.join(', ')})`);
  return picked.map((f) => path.join(here, f));
}

async function main() {
  const filters = process.argv.slice(2);
  const files = scenarioFiles(filters);

  if (!process.env.E2E_SKIP_SETUP) must('bash', [path.join(here, 'setup.sh')]);
  if (!process.env.E2E_SKIP_BUILD) must('npm', ['run', 'build']);
  if (!existsSync(path.join(root, 'dist', 'extension.js')))
    throw new Error('dist/extension.js is missing: the build did not produce the extension');

  const node24 = path.join(root, '.e2e/node24/node_modules/node/bin/node');
  const codeServer = path.join(root, '.e2e/code-server/node_modules/code-server/out/node/entry.js');
  for (const p of [node24, codeServer]) if (!existsSync(p)) throw new Error(`${p} is missing: run test/e2e/setup.sh`);

  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });

  const tmp = mkdtempSync(path.join(tmpdir(), 'retrieval-lens-e2e-'));
  const dirs = {
    workspace: path.join(tmp, 'workspace'),
    data: path.join(tmp, 'user-data'),
    extensions: path.join(tmp, 'extensions'),
    xdg: path.join(tmp, 'xdg'),
    config: path.join(tmp, 'config.yaml'),
  };
  for (const d of [dirs.workspace, dirs.data, dirs.extensions, dirs.xdg]) mkdirSync(d, { recursive: true });
  makeWorkspace(dirs.workspace);
  await makeFusedModel(path.join(tmp, 'fused-model'));
  userSettings(dirs.data);
  writeFileSync(dirs.config, 'auth: none\ncert: false\n');

  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const extId = `${pkg.publisher}.${pkg.name}`;
  symlinkSync(root, path.join(dirs.extensions, `${extId}-${pkg.version}`), 'dir');

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFd = openSync(path.join(artifacts, 'code-server.log'), 'w');
  log(`code-server on ${url}, workspace ${dirs.workspace}`);
  // detached: the child calls setsid(), so it leads its own process group and every process it
  // starts (extension hosts, the model worker, file watchers) can be stopped together.
  const child = spawn(
    node24,
    [
      codeServer,
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--disable-file-downloads',
      // A closed browser page frees its extension host (and its model worker) within seconds.
      '--reconnection-grace-time',
      '10',
      '--user-data-dir',
      dirs.data,
      '--extensions-dir',
      dirs.extensions,
      '--config',
      dirs.config,
      dirs.workspace,
    ],
    {
      cwd: tmp,
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: {
        ...process.env,
        PATH: `${path.dirname(node24)}:${process.env.PATH}`,
        XDG_DATA_HOME: path.join(dirs.xdg, 'data'),
        XDG_CONFIG_HOME: path.join(dirs.xdg, 'config'),
        XDG_CACHE_HOME: path.join(dirs.xdg, 'cache'),
        // The bundled model is offline; nothing in these tests may reach the network.
        HF_HUB_OFFLINE: '1',
      },
    },
  );
  const stop = () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  };
  const onSignal = (sig) => {
    stop();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code = 1;
  try {
    await waitForHealth(url, child, 60_000);
    log(`healthy; running ${files.map((f) => path.basename(f)).join(', ')}`);
    const tests = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        E2E_URL: url,
        E2E_PORT: String(port),
        E2E_WORKSPACE: dirs.workspace,
        E2E_ARTIFACTS: artifacts,
        E2E_TMP: tmp,
        E2E_EXTENSION_ID: extId,
        E2E_SHARED: path.resolve(root, '../shared'),
      },
    });
    code = await new Promise((resolve) => tests.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
  } catch (e) {
    console.error(`[e2e] ${e.message}`);
    code = 1;
  } finally {
    stop();
    // Give the group a moment, then make sure nothing of it is left.
    await new Promise((r) => setTimeout(r, 1500));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* all gone */
    }
    collectLogs(dirs.data);
    if (process.env.E2E_KEEP) log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
  log(`screenshots and logs in ${path.relative(root, artifacts)}/`);
  process.exit(code);
}

/** The extension host and "Retrieval Lens" output channel logs, for reading a failure in CI. */
function collectLogs(dataDir) {
  const logs = path.join(dataDir, 'logs');
  if (!existsSync(logs)) return;
  try {
    cpSync(logs, path.join(artifacts, 'logs'), { recursive: true });
  } catch {
    /* best effort */
  }
}

main().catch((e) => {
  console.error(`[e2e] ${e.stack ?? e}`);
  process.exit(1);
});
