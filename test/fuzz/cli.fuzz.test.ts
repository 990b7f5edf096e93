// Seeded fuzzing of the CLI with the inputs a careless or unlucky user gives it: mutated
// config.json, ONNX and tokenizer files, needles/scores/template JSON, flag values, haystack texts
// and cache folders. Every case must end with exit 0 and a result checked correct, or exit 1/2
// with one `error:` line and no stack; leave no partial or replaced file; keep the cache good
// (a correct run afterwards gives the reference answer); and stay within its time (and, when
// spawned, memory) bound. Reproduce a run with RL_FUZZ_SEED=<seed>; RL_FUZZ_SCALE=2 doubles the counts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from '../../src/engine/sampling.js';
import { onnx } from '../../src/engine/graph.js';
import { parseScoresJson } from '../../src/method/formats.js';
import { assertCleanError, assertNoStack, assertUnchanged, cli, copyModel, snapshot, spawnCli, type CliResult } from '../support/cli.js';
import { repoRoot, sharedModel, tempDir } from '../support/paths.js';

const SEED = Number(process.env.RL_FUZZ_SEED ?? 20251206);
const SCALE = Number(process.env.RL_FUZZ_SCALE ?? 1);
const rand = rng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const count = (n: number) => Math.max(1, Math.round(n * SCALE));

const cache = tempDir('rl-fuzz-cache-');
process.env.RETRIEVAL_LENS_CACHE = cache;
const work = tempDir('rl-fuzz-');
const stories = sharedModel('stories260K');
const organismConfig = JSON.parse(readFileSync(join(sharedModel('needle-organism'), 'config.json'), 'utf8'));
const storiesConfig = JSON.parse(readFileSync(join(stories, 'config.json'), 'utf8'));
const needles = join(repoRoot, 'data', 'needles.jsonl');
const oneNeedle = join(work, 'one-needle.jsonl');
writeFileSync(oneNeedle, readFileSync(needles, 'utf8').split('\n')[0] + '\n');
const fifo = join(work, 'fifo');
const bigSparse = join(work, 'big.txt');

/** The good stories260K copy whose ONNX bytes every config mutation shares: the entry a wrong config could poison. */
let goodStories = '';
let reference: number[] = [];
let scoresFile = '';
let scoresText = '';
const PROMPT = ['--prompt', 'Once upon a time there was', '--max-new-tokens', '4', '--json'];
const tokens = (r: CliResult) => JSON.parse(r.out).tokenIds as number[];

before(async () => {
  execFileSync('mkfifo', [fifo]);
  writeFileSync(bigSparse, '');
  truncateSync(bigSparse, 70 * 1024 * 1024);
  goodStories = copyModel('stories260K', tempDir('rl-fuzz-good-'));
  const r = await cli(['generate', '--model', goodStories, ...PROMPT]);
  assert.equal(r.code, 0, r.err);
  reference = tokens(r);
  scoresFile = join(work, 'scores.json');
  const d = await cli(['detect', '--lengths', '256', '--depths', '0,50', '--needles-file', oneNeedle, '--out', scoresFile]);
  assert.equal(d.code, 0, d.err);
  scoresText = readFileSync(scoresFile, 'utf8');
});

interface Case {
  name: string;
  args: string[];
  /** Run as a real process with a time and heap bound (inputs that could hang or fill the memory). */
  spawn?: boolean;
  /** Required exit code(s), when the input decides it. */
  expect?: number[];
  /** For exit 0: the result is correct. */
  check?: (r: CliResult) => void;
  /** The cache is checked after this case (config and cache mutations). */
  cacheCheck?: boolean;
  env?: Record<string, string>;
  /** The folder its --out points into (default: a fresh one nothing writes to). */
  outDir?: string;
}

interface Outcome {
  name: string;
  code: number;
  ms: number;
  /** The run's last stderr line. */
  said: string;
  problem?: string;
}

/** A folder for --out with a file already in it: a failed run must leave both as they were. */
function outDir(): { dir: string; existing: string; fresh: string } {
  const dir = tempDir('rl-fuzz-out-');
  const existing = join(dir, 'existing.json');
  writeFileSync(existing, '{"previous": true}');
  chmodSync(existing, 0o640);
  return { dir, existing, fresh: join(dir, 'new.json') };
}

async function cacheIsGood(): Promise<void> {
  const r = await cli(['generate', '--model', goodStories, ...PROMPT]);
  assert.equal(r.code, 0, `a correct run after the case: ${r.err}`);
  assert.deepEqual(tokens(r), reference, 'the correct model gives its answer: the cache is not poisoned');
}

async function runCases(cases: Case[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const c of cases) {
    const dir = c.outDir ?? outDir().dir;
    const o = { dir, before: snapshot(dir) };
    const saved = process.env.RETRIEVAL_LENS_CACHE;
    if (c.env?.RETRIEVAL_LENS_CACHE !== undefined && !c.spawn) process.env.RETRIEVAL_LENS_CACHE = c.env.RETRIEVAL_LENS_CACHE;
    let r: CliResult;
    try {
      r = c.spawn ? await spawnCli(c.args, { timeoutMs: 60_000, heapMb: 384, env: c.env }) : await cli(c.args);
    } finally {
      process.env.RETRIEVAL_LENS_CACHE = saved;
    }
    let problem: string | undefined;
    try {
      assert.ok(!r.timedOut, 'killed at the time bound');
      assert.ok(r.ms < (c.spawn ? 45_000 : 30_000), `took ${r.ms} ms`);
      if (c.spawn) assert.ok((r.maxRssMb ?? 0) < 1200, `peak memory ${r.maxRssMb} MB`);
      assertNoStack(r);
      assert.ok([0, 1, 2].includes(r.code), `exit ${r.code}`);
      if (c.expect) assert.ok(c.expect.includes(r.code), `exit ${r.code}, expected ${c.expect.join(' or ')}: ${r.err.trim().split('\n').at(-1)}`);
      if (r.code !== 0) {
        assertCleanError(r, [1, 2]);
        // Files of a failed run: none new, none replaced.
        assertUnchanged(o.dir, o.before, 'output folder');
      } else {
        assert.ok(!/^error:/m.test(r.err), `exit 0 with an error line: ${r.err}`);
        assert.ok(r.err.split('\n').filter((l) => l.startsWith('warning:')).length <= 1, `at most one warning: ${r.err}`);
        c.check?.(r);
      }
      if (c.cacheCheck) await cacheIsGood();
    } catch (e) {
      problem = (e as Error).message.split('\n').slice(0, 6).join(' | ');
    }
    outcomes.push({ name: c.name, code: r.code, ms: r.ms, said: r.err.trim().split('\n').at(-1) ?? '', problem });
  }
  return outcomes;
}

function report(category: string, outcomes: Outcome[]): void {
  const bad = outcomes.filter((o) => o.problem);
  const codes = outcomes.reduce<Record<number, number>>((m, o) => ((m[o.code] = (m[o.code] ?? 0) + 1), m), {});
  const slowest = outcomes.reduce((a, b) => (b.ms > a.ms ? b : a), outcomes[0]);
  if (process.env.RL_FUZZ_VERBOSE) for (const o of outcomes) console.log(`# ${o.code} ${o.ms}ms ${o.name} -> ${o.said.slice(0, 200)}`);
  console.log(`# fuzz ${category}: ${outcomes.length} cases (seed ${SEED}), exits ${JSON.stringify(codes)}, slowest ${slowest?.ms} ms (${slowest?.name})`);
  assert.deepEqual(bad.map((o) => `${o.name}: ${o.problem}`), [], `${bad.length} of ${outcomes.length} ${category} cases misbehaved (seed ${SEED})`);
}

// ---------------------------------------------------------------- config.json

const CONFIG_FIELDS = ['num_attention_heads', 'num_key_value_heads', 'head_dim', 'num_hidden_layers', 'hidden_size', 'vocab_size', 'max_position_embeddings', 'model_type', 'rope_theta', 'eos_token_id', 'bos_token_id', 'tie_word_embeddings', 'text_config'];
const CONFIG_VALUES: unknown[] = [0, -1, 1, 2, 3, 4, 7, 8, 16, 64, 1e9, 1.5, -8, '8', '', null, [], {}, true, 'llama', 'bert', 'gpt2', [1, 2], { num_attention_heads: 2 }, 1e308];
/** What the graph itself fixes, whatever config.json says; exit 0 must report exactly these. */
const TRUTH = { layers: storiesConfig.num_hidden_layers, heads: storiesConfig.num_attention_heads, kvHeads: storiesConfig.num_key_value_heads, headDim: storiesConfig.head_dim, vocabSize: storiesConfig.vocab_size };

/** A damaged copy of a JSON text, as bytes (a flipped byte need not be UTF-8). */
function mutateText(text: string): [string, Buffer] {
  const k = int(7);
  switch (k) {
    case 0:
      return ['truncated', Buffer.from(text.slice(0, int(text.length)))];
    case 1: {
      const b = Buffer.from(text);
      for (let i = 0; i < 1 + int(4); i++) b[int(b.length)] = int(256);
      return ['bytes flipped', b];
    }
    case 2:
      return ['BOM', Buffer.from('\uFEFF' + text)];
    case 3:
      return ['empty', Buffer.alloc(0)];
    case 4:
      return ['array root', Buffer.from(`[${text}]`)];
    case 5:
      return ['deep nesting', Buffer.from('['.repeat(20000) + ']'.repeat(20000))];
    default:
      return ['NUL bytes', Buffer.from(text.replace(/,/, ',\u0000'))];
  }
}

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
          assert.deepEqual({ layers: j.layers, heads: j.heads, kvHeads: j.kvHeads, headDim: j.headDim, vocabSize: j.vocabSize }, TRUTH, 'what inspect reports is what the graph is');
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
      writeFileSync(tc, JSON.stringify({ ...JSON.parse(readFileSync(tc, 'utf8')), chat_template: template, bos_token: pick(['<s>', { content: '<s>', __type: 'AddedToken' }, null, '']) }));
      what = `chat template ${name}`;
      detect = true;
    } else if (k === 3) {
      const [how, bytes] = mutateText(readFileSync(tj, 'utf8'));
      writeFileSync(tj, bytes);
      what = `tokenizer.json ${how}`;
    } else if (k === 4) {
      const t = JSON.parse(readFileSync(tj, 'utf8'));
      const edit = pick(['no model', 'empty vocab', 'model null', 'merges broken', 'added tokens junk', 'normalizer junk', 'a token beyond the vocabulary']);
      if (edit === 'no model') delete t.model;
      else if (edit === 'empty vocab') t.model.vocab = {};
      else if (edit === 'model null') t.model = null;
      else if (edit === 'merges broken') t.model.merges = [42, null, 'a'];
      else if (edit === 'added tokens junk') t.added_tokens = [{ id: 'x' }, 5];
      // The prompt's "time" becomes a token the model's embeddings do not have (another model's tokenizer).
      else if (edit === 'a token beyond the vocabulary') t.added_tokens.push({ id: 70000, content: 'time', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
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

// ---------------------------------------------------------------- needles file

function needleCases(n: number): Case[] {
  const base = readFileSync(needles, 'utf8').split('\n').filter(Boolean);
  return Array.from({ length: n }, (_, i) => {
    const f = join(work, `needles-${i}.jsonl`);
    const lines = base.slice(int(3), 3 + int(2)).slice(0, 1 + int(2)).map((l) => JSON.parse(l));
    let what: string;
    let text: string | Buffer | null = null;
    const k = int(14);
    const o = lines[0];
    switch (k) {
      case 0:
        delete o[pick(['needle', 'question', 'real_needle'])];
        what = 'a field missing';
        break;
      case 1:
        o[pick(['needle', 'question', 'real_needle', 'id'])] = pick([42, null, [], {}, '', '   ', true]);
        what = 'a field of the wrong type';
        break;
      case 2:
        if (lines.length < 2) lines.push({ ...o });
        lines[1].id = o.id;
        what = 'duplicate ids';
        break;
      case 3:
        o.real_needle = 'an answer that is not in the needle';
        what = 'real_needle not in the needle';
        break;
      case 4:
        o.needle = 'x'.repeat(5000) + '.';
        o.real_needle = o.needle;
        what = 'a 5000-character needle';
        break;
      case 5:
        o.needle = `{question} ${o.needle} {context}`;
        what = 'placeholders in the needle';
        break;
      case 6:
        text = '\uFEFF' + lines.map((l) => JSON.stringify(l)).join('\r\n') + '\r\n\r\n';
        what = 'BOM and CRLF';
        break;
      case 7:
        text = lines.map((l) => JSON.stringify(l)).join('\n').slice(0, 40);
        what = 'truncated';
        break;
      case 8:
        text = pick(['', '\n\n  \n', '[]', '{}', 'null', '"text"', '['.repeat(50000)]);
        what = `content ${JSON.stringify(text.slice(0, 12))}`;
        break;
      case 9:
        text = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x00, 0x0a]);
        what = 'UTF-16/binary';
        break;
      case 10:
        o.question = '🦀 ' + o.question;
        o.id = 'ünïcödé-🦀';
        what = 'unicode';
        break;
      case 11:
        o.extra = { nested: [1, 2, 3] };
        what = 'extra fields';
        break;
      default:
        what = 'valid';
    }
    if (text === null) text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    writeFileSync(f, text);
    const special = k === 12 ? pick(['/dev/zero', fifo, work]) : null;
    const d = outDir();
    return {
      name: `needles ${special ?? what} (${i})`,
      args: ['detect', '--lengths', '256', '--depths', '50', '--max-new-tokens', '12', '--needles-file', special ?? f, '--out', pick([d.existing, d.fresh])],
      spawn: special !== null,
      expect: [0, 1],
      check: () => {
        const written = existsSync(d.fresh) ? d.fresh : d.existing;
        const s = parseScoresJson(readFileSync(written, 'utf8'), written);
        const ids = readFileSync(f, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim()).map((l, j) => JSON.parse(l).id ?? `needle-${j + 1}`);
        assert.deepEqual(s.cases.map((c) => c.needleId), ids);
        assert.deepEqual(readdirSync(d.dir).sort(), written === d.fresh ? ['existing.json', 'new.json'] : ['existing.json'], 'no temporary file left');
      },
      outDir: d.dir,
    };
  });
}

// ---------------------------------------------------------------- score files

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj as Record<string, unknown>;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) return;
    o = o[k] as Record<string, unknown>;
  }
  if (value === undefined) delete o[path.at(-1)!];
  else o[path.at(-1)!] = value;
}

const SCORE_PATHS = [['settings'], ['settings', 'lengths'], ['settings', 'depths'], ['settings', 'needles'], ['settings', 'threshold'], ['summary'], ['summary', 'countedCases'], ['summary', 'alwaysActive'], ['retrievalHeads'], ['scores'], ['scores', '0'], ['scores', '5', '5'], ['cases'], ['cases', '0'], ['cases', '0', 'scores'], ['cases', '0', 'success'], ['cases', '1', 'depth'], ['model'], ['model', 'layers'], ['model', 'heads'], ['format']];
const SCORE_VALUES: unknown[] = [undefined, null, [], {}, 'x', -1, 0, 1, 0.5, 1e308, 100000, [1, 2], [[0]], true, 'retrieval-lens/scores@2'];

/** Independent of the parser: each head's mean over counted cases, as analyze must report. */
function expectedTop(file: Record<string, unknown>): number {
  if (file.format === 'retrieval-lens/scores@1') {
    const counted = (file.cases as { success: boolean; scores: number[][] }[]).filter((c) => c.success);
    const flat = (file.scores as number[][]).flat().map((_, i, all) => {
      const h = (file.scores as number[][])[0].length;
      return counted.length ? counted.reduce((s, c) => s + c.scores[Math.floor(i / h)][i % h], 0) / counted.length : 0;
    });
    return Math.max(...flat);
  }
  return Math.max(...Object.values(file as Record<string, number[]>).map((v) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0)));
}

function scoreCases(n: number): Case[] {
  const published = JSON.parse(readFileSync(join(repoRoot, '..', 'shared', 'published-scores', 'llama-2-7b-80k.json'), 'utf8'));
  const smallRef = Object.fromEntries(Object.entries(published).filter(([k]) => Number(k.split('-')[0]) < 2));
  return Array.from({ length: n }, (_, i) => {
    const f = join(work, `scores-${i}.json`);
    const ours = rand() < 0.7;
    let obj: Record<string, unknown> = JSON.parse(ours ? scoresText : JSON.stringify(smallRef));
    let text: Buffer | null = null;
    let what: string;
    const k = int(10);
    if (!ours && k < 4) {
      const key = pick(['100000-100000', '1023-1023', '-1-0', '0-0-0', 'a-b', '01-02', '3-4']);
      obj[key] = pick([[0.5], Array(published['0-0'].length).fill(0.1), [], 'x', [NaN], null]);
      what = `reference key ${key}`;
    } else if (k < 7) {
      const path = pick(SCORE_PATHS);
      const value = pick(SCORE_VALUES);
      setPath(obj, path, value);
      what = `${path.join('.')} = ${JSON.stringify(value)}`;
    } else if (k === 7) {
      const [how, t] = mutateText(JSON.stringify(obj));
      text = t;
      what = how;
    } else if (k === 8 && ours) {
      (obj.cases as unknown[]).pop();
      what = 'a case removed (summary no longer matches)';
    } else {
      what = 'valid';
    }
    writeFileSync(f, text ?? JSON.stringify(obj));
    const ablate = ours && i % 9 === 0;
    const spawnSpecial = i % 17 === 5 ? pick(['/dev/zero', fifo, bigSparse]) : null;
    const target = spawnSpecial ?? f;
    return {
      name: `scores ${spawnSpecial ?? what} (${ours ? 'ours' : 'reference'}, ${ablate ? 'ablate' : 'analyze'})`,
      args: ablate ? ['ablate', '--scores', target, '--k', '1', '--random-trials', '1', '--lengths', '256', '--depths', '50', '--needles-file', oneNeedle, '--max-new-tokens', '12', '--json'] : ['analyze', target, '--json', ...(rand() < 0.3 ? ['--compare', scoresFile] : [])],
      spawn: spawnSpecial !== null,
      expect: [0, 1],
      check: (r) => {
        const j = JSON.parse(r.out);
        if (ablate) {
          assert.equal(j.format, 'retrieval-lens/ablation@1');
          return;
        }
        const file = JSON.parse(readFileSync(f, 'utf8').replace(/^\uFEFF/, ''));
        assert.ok(Math.abs(j.top[0][2] - expectedTop(file)) < 1e-9, `top score ${j.top[0][2]} is the mean of its counted cases ${expectedTop(file)}`);
      },
    };
  });
}

// ---------------------------------------------------------------- prompt templates

function templateCases(n: number): Case[] {
  const templates: [string, unknown][] = [
    ['context twice', '{context}\n\n(again) {context}\n\nQuestion: {question}\nAnswer:'],
    ['question first', 'Question: {question}\n\n{context}\n\nQuestion: {question}\nAnswer:'],
    ['no question', '{context}\nAnswer:'],
    ['no placeholders', 'Answer:'],
    ['a number', 42],
    ['null', null],
    ['doubled braces', '{{context}}\n\nQuestion: {{question}}\nAnswer:'],
    ['huge', '{context}\n' + 'filler '.repeat(3000) + '\nQuestion: {question}\nAnswer:'],
    ['unicode', '📚 {context}\n\n❓ {question}\n✅'],
    ['the organism\'s own', '{context}\n\nQuestion: {question}\nAnswer:'],
  ];
  return Array.from({ length: n }, (_, i) => {
    const [name, template] = templates[i % templates.length];
    const viaFlag = typeof template === 'string' && rand() < 0.4;
    let args: string[];
    if (viaFlag) {
      args = ['detect', '--template', template as string];
    } else {
      const dir = join(tempDir('rl-fuzz-tpl-'), 'organism');
      cpSync(sharedModel('needle-organism'), dir, { recursive: true });
      chmodSync(dir, 0o755);
      chmodSync(join(dir, 'retrieval-lens.json'), 0o644);
      const raw = rand() < 0.15 ? '\uFEFF' : '';
      writeFileSync(join(dir, 'retrieval-lens.json'), raw + JSON.stringify({ template }));
      args = ['detect', '--model', dir];
    }
    return {
      name: `template ${name} (${viaFlag ? '--template' : 'retrieval-lens.json'})`,
      args: [...args, '--lengths', '256', '--depths', '50', '--needles-file', oneNeedle, '--json'],
      expect: viaFlag && typeof template === 'string' && !(template.includes('{context}') && template.includes('{question}')) ? [2] : [0, 1],
      check: (r) => {
        const s = JSON.parse(r.out);
        if (typeof template === 'string') assert.equal(s.settings.template, template);
        assert.equal(s.cases.length, 1);
        assert.ok(s.cases[0].response.length > 0, 'an answer, not an empty one');
      },
    };
  });
}

// ---------------------------------------------------------------- flags

type Pool = [string, boolean][];
const INTS: Pool = [['1', true], ['3', true], ['0', false], ['-1', false], ['', false], ['1.5', false], ['abc', false], ['1e3', false], ['0x10', false], ['99999999999999999999', false], [' 2', true]];
const NUMS: Pool = [['0', true], ['0.5', true], ['1', true], ['-0.1', false], ['NaN', false], ['Infinity', false], ['1e309', false], ['', false], ['.5', true], ['1,5', false]];
const FLAG_POOLS: Record<string, Record<string, Pool>> = {
  generate: {
    '--max-new-tokens': INTS,
    '--temperature': [['0', true], ['0.7', true], ['-1', false], ['1000', false], ['x', false]],
    '--mask': [['0:0', true], ['0:0,1:1', true], ['0:0,0-0', false], ['x', false], ['1:', false], ['', true]],
    '--mask-mode': [['uniform', true], ['zero', true], ['half', false]],
    '--dtype': [['fp32', true], ['auto', true], ['fp8', false], ['', false]],
    '--prompt-file': [[fifo, true], ['/dev/zero', true], [work, true], [bigSparse, true]],
  },
  detect: {
    '--lengths': [['256', true], ['256,512', true], ['0', false], ['256,256', false], ['-5', false], ['', false], ['a,b', false], ['256,,512', false]],
    '--depths': [['0,50,100', true], ['12.5', true], ['101', false], ['-1', false], ['50,50', false], ['', false]],
    '--threshold': NUMS,
    '--max-new-tokens': INTS,
    '--format': [['retrieval-head', true], ['csv', false]],
    '--template': [['{context} Q: {question}', true], ['{context}', false], ['', false]],
    '--haystack': [['/dev/zero', true], [fifo, true], [bigSparse, true]],
    '--out': [['', false], [work, true], ['/dev/null', true], ['/proc/self/x.json', true]],
  },
  ablate: {
    '--k': [['1,2', true], ['0', false], ['1,1', false], ['x', false]],
    '--random-trials': [['2', true], ['0', false], ['1001', false]],
    '--seed': [['7', true], ['-1', false], ['4294967296', false], ['1.5', false]],
    '--scores': [[scoresFile || 'placeholder', true], ['/dev/zero', true]],
  },
  analyze: {
    '--top': [['3', true], ['0', false], ['x', false]],
    '--compare': [['/nonexistent/s.json', true]],
  },
  inspect: {
    '--dtype': [['q4', true], ['fp8', false]],
    '--json': [['', true]],
  },
};
const STRAY = ['stray', '-x', '--nope', '--json=maybe', '-'];

function flagCases(n: number): Case[] {
  return Array.from({ length: n }, (_, i) => {
    const cmd = pick(Object.keys(FLAG_POOLS));
    const pools = FLAG_POOLS[cmd];
    const args: string[] = [cmd];
    if (cmd === 'analyze') args.push(scoresFile);
    let anyInvalid = false;
    const used = new Set<string>();
    for (let f = 0; f < 1 + int(3); f++) {
      const flag = pick(Object.keys(pools));
      if (used.has(flag)) continue;
      used.add(flag);
      const [value, ok] = pick(pools[flag]);
      if (flag === '--json') args.push('--json');
      else if (rand() < 0.3) args.push(`${flag}=${value === 'placeholder' ? scoresFile : value}`);
      else args.push(flag, value === 'placeholder' ? scoresFile : value);
      anyInvalid ||= !ok;
    }
    if (rand() < 0.1) {
      args.push(pick(STRAY));
      anyInvalid = true;
    }
    const help = rand() < 0.06;
    if (help) args.splice(1 + int(args.length - 1), 0, pick(['-h', '--help']));
    // No model to load: a usage error must be found first, a valid call stops at the missing model.
    if (cmd !== 'analyze') args.push('--model', '/nonexistent/fuzz-model');
    if (cmd === 'generate' && !used.has('--prompt-file')) args.push('--prompt', 'Hello');
    if (cmd === 'ablate' && !used.has('--scores')) args.push('--scores', scoresFile);
    return {
      name: `flags ${JSON.stringify(args.join(' ')).slice(0, 160)} (${i})`,
      args,
      expect: help ? [0] : anyInvalid ? [2] : [0, 1, 2],
      check: (r) => {
        if (help) assert.match(r.out, /^usage: retrieval-lens/);
      },
    };
  });
}

// ---------------------------------------------------------------- haystack texts

function haystackCases(n: number): Case[] {
  const shakespeare = readFileSync(join(repoRoot, 'data', 'haystack', 'shakespeare.txt'), 'utf8').slice(0, 30000);
  const kinds: [string, () => string | Buffer][] = [
    ['placeholders', () => shakespeare.replace(/\n/g, ' {question} {context} ')],
    ['binary', () => Buffer.from(Array.from({ length: 4000 }, () => int(256)))],
    ['NUL in text', () => shakespeare.slice(0, 5000) + '\u0000' + shakespeare.slice(5000, 9000)],
    ['invalid UTF-8', () => Buffer.concat([Buffer.from(shakespeare.slice(0, 3000)), Buffer.from([0xc3, 0x28, 0xa0, 0xa1])])],
    ['empty', () => ''],
    ['whitespace', () => ' \n\t\n  '.repeat(100)],
    ['no sentence ends', () => 'river stone lantern meadow copper '.repeat(600)],
    ['only periods', () => '. '.repeat(5000)],
    ['one character', () => 'a'],
    ['CRLF', () => shakespeare.replace(/\n/g, '\r\n')],
    ['unicode', () => '川の流れは絶えずして、しかももとの水にあらず。🦀 Ünïcödé sentence here. '.repeat(300)],
    ['one long line', () => shakespeare.replace(/\s+/g, ' ')],
    ['line separators', () => shakespeare.replace(/\n/g, '\u2028')],
    ['2 MB', () => shakespeare.repeat(70)],
  ];
  return Array.from({ length: n }, (_, i) => {
    const [name, make] = kinds[i % kinds.length];
    const f = join(work, `haystack-${i}.txt`);
    writeFileSync(f, make());
    const extra = rand() < 0.15 ? [pick(['/dev/zero', fifo, bigSparse, join(work, 'missing.txt')])] : [];
    const spawned = extra.length > 0 && extra[0] !== join(work, 'missing.txt');
    return {
      name: `haystack ${name}${extra.length ? ` + ${extra[0]}` : ''}`,
      args: ['detect', '--lengths', '256', '--depths', '0,50', '--needles-file', oneNeedle, '--max-new-tokens', '14', '--haystack', f, ...extra, '--json'],
      spawn: spawned,
      expect: [0, 1],
      check: (r) => {
        const s = JSON.parse(r.out);
        assert.equal(s.cases.length, 2);
        for (const c of s.cases) {
          assert.equal(typeof c.needleDepth, 'number');
          if (c.depth === 0) assert.equal(c.needleDepth, 0);
          if (name === 'no sentence ends' && c.depth === 50) assert.ok(Math.abs(c.needleDepth - 50) <= 1, `needle at ${c.needleDepth}%`);
          if (name === 'placeholders') assert.ok(c.response.length > 0, 'an answer, not an empty one');
        }
      },
    };
  });
}

// ---------------------------------------------------------------- cache folder

function cacheCases(n: number): Case[] {
  const entries = () => (existsSync(join(cache, 'instrumented')) ? readdirSync(join(cache, 'instrumented')).map((d) => join(cache, 'instrumented', d)) : []);
  return Array.from({ length: n }, (_, i) => {
    const k = int(9);
    let what = '';
    let env: Record<string, string> | undefined;
    let spawn = false;
    const harm = () => {
      const all = entries().filter((e) => existsSync(join(e, 'meta.json')));
      if (!all.length) return;
      const e = pick(all);
      const g = join(e, 'model.onnx');
      const m = join(e, 'meta.json');
      switch (k) {
        case 0: {
          const b = readFileSync(g);
          for (let j = 0; j < 1 + int(64); j++) b[int(b.length)] = int(256);
          writeFileSync(g, b);
          break;
        }
        case 1:
          truncateSync(g, int(readFileSync(g).length));
          break;
        case 2:
          writeFileSync(m, readFileSync(m, 'utf8').slice(0, int(200)));
          break;
        case 3: {
          const other = pick(all);
          const [a, b] = [readFileSync(join(other, 'model.onnx')), readFileSync(join(other, 'meta.json'))];
          writeFileSync(g, a);
          writeFileSync(m, b);
          break;
        }
        case 4:
          rmSync(e, { recursive: true });
          writeFileSync(e, 'not a folder');
          break;
        case 5: {
          const memo = join(cache, 'source-hashes');
          if (existsSync(memo)) for (const f of readdirSync(memo)) writeFileSync(join(memo, f), pick(['{', '{"id": 1, "sha256": "zz"}', '']));
          break;
        }
        default:
          break;
      }
    };
    if (k <= 5) what = ['graph bytes flipped', 'graph truncated', 'meta truncated', 'entry swapped with another', 'entry replaced by a file', 'source-hash memos corrupted'][k];
    else if (k === 6) {
      const f = join(work, `cache-file-${i}`);
      writeFileSync(f, 'x');
      env = { RETRIEVAL_LENS_CACHE: pick([f, '/proc/self/rl-cache', join(f, 'below-a-file')]) };
      what = `RETRIEVAL_LENS_CACHE=${env.RETRIEVAL_LENS_CACHE}`;
      spawn = env.RETRIEVAL_LENS_CACHE.startsWith('/proc');
    } else if (k === 7) {
      const loop = join(work, `cache-loop-${i}`);
      symlinkSync(loop, loop);
      env = { RETRIEVAL_LENS_CACHE: loop };
      what = 'cache folder a symlink loop';
    } else {
      const ro = tempDir('rl-fuzz-ro-cache-');
      cpSync(cache, ro, { recursive: true });
      const walk = (p: string) => {
        for (const f of readdirSync(p, { withFileTypes: true })) if (f.isDirectory()) walk(join(p, f.name));
        chmodSync(p, 0o555);
      };
      walk(ro);
      env = { RETRIEVAL_LENS_CACHE: ro };
      what = 'a read-only copy of the cache';
    }
    return {
      name: `cache ${what} (${i})`,
      args: ['generate', '--model', goodStories, ...PROMPT],
      env,
      spawn,
      expect: [0],
      cacheCheck: true,
      check: (r) => assert.deepEqual(tokens(r), reference, 'the right answer, never garbage from a damaged entry'),
      harm,
    } as Case & { harm: () => void };
  });
}

// ---------------------------------------------------------------- the tests

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

test(`fuzz: needles files (seed ${SEED})`, async () => {
  report('needles', await runCases(needleCases(count(22))));
});

test(`fuzz: score files, analyze and ablate (seed ${SEED})`, async () => {
  report('scores', await runCases(scoreCases(count(50))));
});

test(`fuzz: prompt templates (seed ${SEED})`, async () => {
  report('templates', await runCases(templateCases(count(10))));
});

test(`fuzz: flag values (seed ${SEED})`, async () => {
  report('flags', await runCases(flagCases(count(80))));
});

test(`fuzz: haystack texts (seed ${SEED})`, async () => {
  report('haystack', await runCases(haystackCases(count(16))));
});

test(`fuzz: cache folder damage (seed ${SEED})`, async () => {
  const cases = cacheCases(count(18));
  const outcomes: Outcome[] = [];
  for (const c of cases) {
    (c as Case & { harm: () => void }).harm();
    outcomes.push(...(await runCases([c])));
  }
  report('cache', outcomes);
});
