// The layer rules, enforced (npm run lint; .ci/run runs it):
//   shared  <-  engine  <-  method  <-  cli / worker  <-  extension        webview -> shared only
// - outside src/engine, only the engine's index (engine/index.js) may be imported;
// - onnxruntime-node only in src/engine/session.ts (the one file that creates sessions);
// - vscode only under src/extension;
// - the webview only src/shared (and @vscode-elements);
// - nothing reaches into another package's sources (node_modules/..., <pkg>/src/...);
// - no file over 400 lines.
import tseslint from 'typescript-eslint';

const ENGINE_INTERNALS = {
  group: ['**/engine/*', '!**/engine/index.js'],
  message: 'Outside src/engine, import the engine through its public surface, engine/index.js.',
};
const PACKAGE_SOURCES = {
  group: ['**/node_modules/**', '@*/*/src/**', '@huggingface/transformers/*'],
  message: 'Import a package through its entry point, not its sources: a version bump or another install layout breaks that.',
};
const ONNXRUNTIME = { name: 'onnxruntime-node', message: 'Only src/engine/session.ts creates onnxruntime sessions.' };
const VSCODE = { name: 'vscode', message: 'vscode belongs to src/extension only.' };
const above = (...layers) => ({
  group: layers.map((l) => `**/${l}/*`),
  message: `This layer may not import ${layers.join(', ')} (layers: shared <- engine <- method <- cli/worker <- extension).`,
});

/** One no-restricted-imports rule per area: flat config replaces a rule wholesale, so each lists everything. */
const restrict = (patterns, paths = [ONNXRUNTIME, VSCODE]) => ({
  'no-restricted-imports': ['error', { paths, patterns: [PACKAGE_SOURCES, ...patterns] }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.e2e/**', 'test-artifacts/**', 'test/fixtures/models/**', '.venv/**', 'scratch/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    rules: { 'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }] },
  },
  { files: ['src/shared/**/*.ts'], rules: restrict([above('engine', 'method', 'cli', 'worker', 'extension')]) },
  { files: ['src/engine/**/*.ts'], rules: restrict([above('method', 'cli', 'worker', 'extension')]) },
  { files: ['src/engine/session.ts'], rules: restrict([above('method', 'cli', 'worker', 'extension')], [VSCODE]) },
  { files: ['src/method/**/*.ts'], rules: restrict([ENGINE_INTERNALS, above('cli', 'worker', 'extension')]) },
  { files: ['src/cli/**/*.ts'], rules: restrict([ENGINE_INTERNALS, above('worker', 'extension')]) },
  { files: ['src/worker/**/*.ts'], rules: restrict([ENGINE_INTERNALS, above('cli', 'extension')]) },
  { files: ['src/extension/**/*.ts'], rules: restrict([ENGINE_INTERNALS, above('cli')], [ONNXRUNTIME]) },
  {
    files: ['webview/**/*.ts'],
    rules: restrict(
      [
        { group: ['**/src/*/**', '!**/src/shared/**'], message: 'The webview may import src/shared only.' },
        { group: ['node:*'], message: 'The webview runs in a browser: no Node modules.' },
      ],
      [ONNXRUNTIME, VSCODE],
    ),
  },
);
