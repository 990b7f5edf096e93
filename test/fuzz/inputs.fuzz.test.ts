// Fuzzing the JSON a user gives the CLI: needles files, score files (analyze, ablate), prompt templates (support.ts runs and checks each case).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
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

// ---------------------------------------------------------------- needles file

function needleCases(n: number): Case[] {
  const base = readFileSync(needles, 'utf8').split('\n').filter(Boolean);
  return Array.from({ length: n }, (_, i) => {
    const f = join(work, `needles-${i}.jsonl`);
    const lines = base
      .slice(int(3), 3 + int(2))
      .slice(0, 1 + int(2))
      .map((l) => JSON.parse(l));
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
        text = lines
          .map((l) => JSON.stringify(l))
          .join('\n')
          .slice(0, 40);
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
      args: [
        'detect',
        '--lengths',
        '256',
        '--depths',
        '50',
        '--max-new-tokens',
        '12',
        '--needles-file',
        special ?? f,
        '--out',
        pick([d.existing, d.fresh]),
      ],
      spawn: special !== null,
      expect: [0, 1],
      check: () => {
        const written = existsSync(d.fresh) ? d.fresh : d.existing;
        const s = parseScoresJson(readFileSync(written, 'utf8'), written);
        const ids = readFileSync(f, 'utf8')
          .replace(/^\uFEFF/, '')
          .split(/\r?\n/)
          .filter((l) => l.trim())
          .map((l, j) => JSON.parse(l).id ?? `needle-${j + 1}`);
        assert.deepEqual(
          s.cases.map((c) => c.needleId),
          ids,
        );
        assert.deepEqual(
          readdirSync(d.dir).sort(),
          written === d.fresh ? ['existing.json', 'new.json'] : ['existing.json'],
          'no temporary file left',
        );
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

const SCORE_PATHS = [
  ['settings'],
  ['settings', 'lengths'],
  ['settings', 'depths'],
  ['settings', 'needles'],
  ['settings', 'threshold'],
  ['summary'],
  ['summary', 'countedCases'],
  ['summary', 'alwaysActive'],
  ['retrievalHeads'],
  ['scores'],
  ['scores', '0'],
  ['scores', '5', '5'],
  ['cases'],
  ['cases', '0'],
  ['cases', '0', 'scores'],
  ['cases', '0', 'success'],
  ['cases', '1', 'depth'],
  ['model'],
  ['model', 'layers'],
  ['model', 'heads'],
  ['format'],
];
const SCORE_VALUES: unknown[] = [
  undefined,
  null,
  [],
  {},
  'x',
  -1,
  0,
  1,
  0.5,
  1e308,
  100000,
  [1, 2],
  [[0]],
  true,
  'retrieval-lens/scores@2',
];

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
      args: ablate
        ? [
            'ablate',
            '--scores',
            target,
            '--k',
            '1',
            '--random-trials',
            '1',
            '--lengths',
            '256',
            '--depths',
            '50',
            '--needles-file',
            oneNeedle,
            '--max-new-tokens',
            '12',
            '--json',
          ]
        : ['analyze', target, '--json', ...(rand() < 0.3 ? ['--compare', scoresFile] : [])],
      spawn: spawnSpecial !== null,
      expect: [0, 1],
      check: (r) => {
        const j = JSON.parse(r.out);
        if (ablate) {
          assert.equal(j.format, 'retrieval-lens/ablation@1');
          return;
        }
        const file = JSON.parse(readFileSync(f, 'utf8').replace(/^\uFEFF/, ''));
        assert.ok(
          Math.abs(j.top[0][2] - expectedTop(file)) < 1e-9,
          `top score ${j.top[0][2]} is the mean of its counted cases ${expectedTop(file)}`,
        );
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
    ["the organism's own", '{context}\n\nQuestion: {question}\nAnswer:'],
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
      expect:
        viaFlag && typeof template === 'string' && !(template.includes('{context}') && template.includes('{question}')) ? [2] : [0, 1],
      check: (r) => {
        const s = JSON.parse(r.out);
        if (typeof template === 'string') assert.equal(s.settings.template, template);
        assert.equal(s.cases.length, 1);
        assert.ok(s.cases[0].response.length > 0, 'an answer, not an empty one');
      },
    };
  });
}

test(`fuzz: needles files (seed ${SEED})`, async () => {
  report('needles', await runCases(needleCases(count(22))));
});

test(`fuzz: score files, analyze and ablate (seed ${SEED})`, async () => {
  report('scores', await runCases(scoreCases(count(50))));
});

test(`fuzz: prompt templates (seed ${SEED})`, async () => {
  report('templates', await runCases(templateCases(count(10))));
});
