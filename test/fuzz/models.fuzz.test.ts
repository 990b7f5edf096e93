// Fuzzing the model files a user points the CLI at: config.json, the ONNX file, tokenizer files and chat templates (support.ts runs and checks each case).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { onnx } from '../../src/engine/graph.js';
import { parseScoresJson } from '../../src/method/formats.js';
import { assertCleanError, assertNoStack, assertUnchanged, cli, copyModel, snapshot, spawnCli, type CliResult } from '../support/cli.js';
import { repoRoot, sharedModel, tempDir } from '../support/paths.js';
import {
  SEED,
  SCALE,
  rand,
  int,
  pick,
  count,
  cache,
  work,
  stories,
  organismConfig,
  storiesConfig,
  needles,
  oneNeedle,
  fifo,
  bigSparse,
  goodStories,
  reference,
  scoresFile,
  scoresText,
  PROMPT,
  tokens,
  type Case,
  type Outcome,
  outDir,
  cacheIsGood,
  runCases,
  report,
  mutateText,
  setup,
} from './support.js';

before(setup);

// ---------------------------------------------------------------- config.json

const CONFIG_FIELDS = [
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'num_hidden_layers',
  'hidden_size',
  'vocab_size',
  'max_position_embeddings',
  'model_type',
  'rope_theta',
  'eos_token_id',
  'bos_token_id',
  'tie_word_embeddings',
  'text_config',
];
const CONFIG_VALUES: unknown[] = [
  0,
  -1,
  1,
  2,
  3,
  4,
  7,
  8,
  16,
  64,
  1e9,
  1.5,
  -8,
  '8',
  '',
  null,
  [],
  {},
  true,
  'llama',
  'bert',
  'gpt2',
  [1, 2],
  { num_attention_heads: 2 },
  1e308,
];
/** What the graph itself fixes, whatever config.json says; exit 0 must report exactly these. */
const TRUTH = {
  layers: storiesConfig.num_hidden_layers,
  heads: storiesConfig.num_attention_heads,
  kvHeads: storiesConfig.num_key_value_heads,
  headDim: storiesConfig.head_dim,
  vocabSize: storiesConfig.vocab_size,
};

/** A damaged copy of a JSON text, as bytes (a flipped byte need not be UTF-8). */

function configCases(n: number): Case[] {
  return Array.from({ length: n }, (_, i) => {
    const dir = copyModel('stories260K', tempDir('rl-fuzz-cfg-'));
    const p = join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(p, 'utf8'));
    let what: string;
    if (rand() < 0.75) {
      const edits = 1 + int(2);
      const parts: string[] = [];
      for (let e = 0; e < edits; e++) {
        const field = pick(CONFIG_FIELDS);
        if (rand() < 0.15) {
          delete cfg[field];
          parts.push(`-${field}`);
        } else {
          cfg[field] = pick(CONFIG_VALUES);
          parts.push(`${field}=${JSON.stringify(cfg[field])}`);
        }
      }
      writeFileSync(p, JSON.stringify(cfg));
      what = parts.join(' ');
    } else {
      const [how, bytes] = mutateText(readFileSync(p, 'utf8'));
      writeFileSync(p, bytes);
      what = how;
    }
    const inspect = i % 2 === 0;
    return {
      name: `config ${what} (${inspect ? 'inspect' : 'generate'})`,
      args: inspect ? ['inspect', '--model', dir, '--json'] : ['generate', '--model', dir, ...PROMPT],
      expect: [0, 1],
      cacheCheck: true,
      check: (r) => {
        if (inspect) {
          const j = JSON.parse(r.out);
          assert.deepEqual(
            { layers: j.layers, heads: j.heads, kvHeads: j.kvHeads, headDim: j.headDim, vocabSize: j.vocabSize },
            TRUTH,
            'what inspect reports is what the graph is',
          );
        } else {
          const t = tokens(r);
          // A different eos or a shorter context may stop earlier; otherwise the same model gives the same answer.
          assert.deepEqual(t, reference.slice(0, t.length), 'the answer of the model the ONNX file holds');
          if (!/eos_token_id|max_position_embeddings/.test(what)) assert.equal(t.length, reference.length);
        }
      },
    };
  });
}

// ---------------------------------------------------------------- ONNX file

const OPS = ['Relu', 'Identity', 'Add', 'Softmax', 'MatMul', 'Gather', 'Bogus', 'Attention', 'GroupQueryAttention', 'If', 'Reshape'];
const onnxBuf = readFileSync(join(stories, 'onnx', 'model.onnx'));

function onnxCases(n: number): Case[] {
  return Array.from({ length: n }, () => {
    const dir = copyModel('stories260K', tempDir('rl-fuzz-onnx-'));
    const f = join(dir, 'onnx', 'model.onnx');
    let what: string;
    const k = int(9);
    if (k === 0) {
      const at = int(onnxBuf.length);
      writeFileSync(f, onnxBuf.subarray(0, at));
      what = `truncated at ${at}`;
    } else if (k === 1 || k === 2) {
      const b = Buffer.from(onnxBuf);
      const flips = 1 + int(16);
      // Mostly where the graph's structure is (the file's first and last KB), sometimes anywhere.
      for (let i = 0; i < flips; i++) b[k === 1 ? int(b.length) : rand() < 0.5 ? int(4096) : b.length - 1 - int(4096)] = int(256);
      writeFileSync(f, b);
      what = `${flips} bytes flipped${k === 1 ? ' anywhere' : ' in the structure'}`;
    } else if (k <= 5) {
      const m = onnx.ModelProto.decode(onnxBuf);
      const nodes = m.graph!.node!;
      const i = int(nodes.length);
      if (k === 3) {
        const op = pick(OPS);
        what = `node ${nodes[i].opType} -> ${op}`;
        nodes[i].opType = op;
        if (op.endsWith('Attention')) nodes[i].domain = 'com.microsoft';
      } else if (k === 4) {
        what = `node ${nodes[i].opType} removed`;
        nodes.splice(i, 1);
      } else {
        const swapWith = int(nodes.length);
        what = `nodes ${i} and ${swapWith} swapped`;
        [nodes[i], nodes[swapWith]] = [nodes[swapWith], nodes[i]];
      }
      writeFileSync(f, onnx.ModelProto.encode(m).finish());
    } else if (k === 6) {
      writeFileSync(f, Buffer.concat([onnxBuf, Buffer.from('garbage after the model \u0000\u0001\u0002')]));
      what = 'garbage appended';
    } else if (k === 7) {
      const how = pick(['empty', 'folder', 'fifo', 'dev-zero', 'text']);
      rmSync(f);
      if (how === 'empty') writeFileSync(f, '');
      else if (how === 'folder') mkdirSync(f);
      else if (how === 'fifo') execFileSync('mkfifo', [f]);
      else if (how === 'dev-zero') symlinkSync('/dev/zero', f);
      else writeFileSync(f, 'not a protobuf\n'.repeat(100));
      what = `model.onnx is ${how}`;
    } else {
      rmSync(join(dir, 'onnx'), { recursive: true });
      what = 'no onnx folder';
    }
    return {
      name: `onnx ${what}`,
      args: ['generate', '--model', dir, ...PROMPT],
      // A FIFO or a device could block the process itself: those run as a process with a time bound.
      spawn: k === 7,
      expect: [0, 1],
      check: (r) => {
        // A structurally intact edit is a different model: its answer is well-formed, not the reference's.
        const t = tokens(r);
        assert.ok(t.length >= 1 && t.length <= 4 && t.every((x) => Number.isInteger(x) && x >= 0 && x < 512), JSON.stringify(t));
      },
    };
  });
}

// ---------------------------------------------------------------- tokenizer files

const TEMPLATES: [string, unknown][] = [
  ['raises', "{{ raise_exception('no system messages') }}"],
  ['syntax error', '{% if messages %}{{ messages[0].content'],
  ['unknown filter', '{{ messages[0].content | no_such_filter }}'],
  ['number', 42],
  ['dict without default', [{ name: 'tool_use', template: '{{ messages }}' }]],
  ['with default', [{ name: 'default', template: '<u>{{ messages[0].content }}</u>{% if add_generation_prompt %}<a>{% endif %}' }]],
  ['huge output', "{% set s = 'ab' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s }}"],
  ['fine', '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}'],
  ['recursion', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}'],
];

function tokenizerCases(n: number): Case[] {
  return Array.from({ length: n }, (_, i) => {
    const dir = copyModel('stories260K', tempDir('rl-fuzz-tok-'));
    const tj = join(dir, 'tokenizer.json');
    const tc = join(dir, 'tokenizer_config.json');
    let what: string;
    let detect = false;
    const k = int(6);
    if (k <= 2) {
      const [name, template] = pick(TEMPLATES);
      writeFileSync(
        tc,
        JSON.stringify({
          ...JSON.parse(readFileSync(tc, 'utf8')),
          chat_template: template,
          bos_token: pick(['<s>', { content: '<s>', __type: 'AddedToken' }, null, '']),
        }),
      );
      what = `chat template ${name}`;
      detect = true;
    } else if (k === 3) {
      const [how, bytes] = mutateText(readFileSync(tj, 'utf8'));
      writeFileSync(tj, bytes);
      what = `tokenizer.json ${how}`;
    } else if (k === 4) {
      const t = JSON.parse(readFileSync(tj, 'utf8'));
      const edit = pick([
        'no model',
        'empty vocab',
        'model null',
        'merges broken',
        'added tokens junk',
        'normalizer junk',
        'a token beyond the vocabulary',
      ]);
      if (edit === 'no model') delete t.model;
      else if (edit === 'empty vocab') t.model.vocab = {};
      else if (edit === 'model null') t.model = null;
      else if (edit === 'merges broken') t.model.merges = [42, null, 'a'];
      else if (edit === 'added tokens junk') t.added_tokens = [{ id: 'x' }, 5];
      // The prompt's "time" becomes a token the model's embeddings do not have (another model's tokenizer).
      else if (edit === 'a token beyond the vocabulary')
        t.added_tokens.push({
          id: 70000,
          content: 'time',
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: false,
        });
      else t.normalizer = { type: 'NoSuchNormalizer' };
      writeFileSync(tj, JSON.stringify(t));
      what = `tokenizer.json ${edit}`;
    } else {
      const target = pick([tj, tc]);
      const how = pick(['folder', 'fifo', 'dev-zero', 'empty', 'missing']);
      rmSync(target);
      if (how === 'folder') mkdirSync(target);
      else if (how === 'fifo') execFileSync('mkfifo', [target]);
      else if (how === 'dev-zero') symlinkSync('/dev/zero', target);
      else if (how === 'empty') writeFileSync(target, '');
      what = `${target.endsWith('tokenizer.json') ? 'tokenizer.json' : 'tokenizer_config.json'} ${how}`;
    }
    const args = detect
      ? ['detect', '--model', dir, '--lengths', '200', '--depths', '50', '--max-new-tokens', '3', '--needles-file', oneNeedle, '--json']
      : ['generate', '--model', dir, ...PROMPT];
    return {
      name: `tokenizer ${what} (${i}, ${detect ? 'detect' : 'generate'})`,
      args,
      spawn: k === 5,
      expect: [0, 1],
      check: (r) => {
        if (detect) assert.equal(JSON.parse(r.out).cases.length, 1);
        else assert.ok(tokens(r).length >= 1);
      },
    };
  });
}

test(`fuzz: config.json mutations (seed ${SEED})`, async () => {
  report('config', await runCases(configCases(count(36))));
});

test(`fuzz: ONNX file mutations (seed ${SEED})`, async () => {
  report('onnx', await runCases(onnxCases(count(36))));
  await cacheIsGood();
});

test(`fuzz: tokenizer files and chat templates (seed ${SEED})`, async () => {
  report('tokenizer', await runCases(tokenizerCases(count(24))));
});
