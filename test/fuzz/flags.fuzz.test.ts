// Fuzzing how the CLI is called and what it reads: flag values, haystack texts, the cache folder (support.ts runs and checks each case).
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
  setup,
} from './support.js';

before(setup);

// ---------------------------------------------------------------- flags

type Pool = [string, boolean][];
const INTS: Pool = [
  ['1', true],
  ['3', true],
  ['0', false],
  ['-1', false],
  ['', false],
  ['1.5', false],
  ['abc', false],
  ['1e3', false],
  ['0x10', false],
  ['99999999999999999999', false],
  [' 2', true],
];
const NUMS: Pool = [
  ['0', true],
  ['0.5', true],
  ['1', true],
  ['-0.1', false],
  ['NaN', false],
  ['Infinity', false],
  ['1e309', false],
  ['', false],
  ['.5', true],
  ['1,5', false],
];
const FLAG_POOLS: Record<string, Record<string, Pool>> = {
  generate: {
    '--max-new-tokens': INTS,
    '--temperature': [
      ['0', true],
      ['0.7', true],
      ['-1', false],
      ['1000', false],
      ['x', false],
    ],
    '--mask': [
      ['0:0', true],
      ['0:0,1:1', true],
      ['0:0,0-0', false],
      ['x', false],
      ['1:', false],
      ['', true],
    ],
    '--mask-mode': [
      ['uniform', true],
      ['zero', true],
      ['half', false],
    ],
    '--dtype': [
      ['fp32', true],
      ['auto', true],
      ['fp8', false],
      ['', false],
    ],
    '--prompt-file': [
      [fifo, true],
      ['/dev/zero', true],
      [work, true],
      [bigSparse, true],
    ],
  },
  detect: {
    '--lengths': [
      ['256', true],
      ['256,512', true],
      ['0', false],
      ['256,256', false],
      ['-5', false],
      ['', false],
      ['a,b', false],
      ['256,,512', false],
    ],
    '--depths': [
      ['0,50,100', true],
      ['12.5', true],
      ['101', false],
      ['-1', false],
      ['50,50', false],
      ['', false],
    ],
    '--threshold': NUMS,
    '--max-new-tokens': INTS,
    '--format': [
      ['retrieval-head', true],
      ['csv', false],
    ],
    '--template': [
      ['{context} Q: {question}', true],
      ['{context}', false],
      ['', false],
    ],
    '--haystack': [
      ['/dev/zero', true],
      [fifo, true],
      [bigSparse, true],
    ],
    '--out': [
      ['', false],
      [work, true],
      ['/dev/null', true],
      ['/proc/self/x.json', true],
    ],
  },
  ablate: {
    '--k': [
      ['1,2', true],
      ['0', false],
      ['1,1', false],
      ['x', false],
    ],
    '--random-trials': [
      ['2', true],
      ['0', false],
      ['1001', false],
    ],
    '--seed': [
      ['7', true],
      ['-1', false],
      ['4294967296', false],
      ['1.5', false],
    ],
    '--scores': [
      [scoresFile || 'placeholder', true],
      ['/dev/zero', true],
    ],
  },
  analyze: {
    '--top': [
      ['3', true],
      ['0', false],
      ['x', false],
    ],
    '--compare': [['/nonexistent/s.json', true]],
  },
  inspect: {
    '--dtype': [
      ['q4', true],
      ['fp8', false],
    ],
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
      args: [
        'detect',
        '--lengths',
        '256',
        '--depths',
        '0,50',
        '--needles-file',
        oneNeedle,
        '--max-new-tokens',
        '14',
        '--haystack',
        f,
        ...extra,
        '--json',
      ],
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

test(`fuzz: flag values (seed ${SEED})`, async () => {
  report('flags', await runCases(flagCases(count(80))));
});

test(`fuzz: haystack texts (seed ${SEED})`, async () => {
  report('haystack', await runCases(haystackCases(count(16))));
});
