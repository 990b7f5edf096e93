// The needle-highlights tab: one generation stepped token by token, with the selected head's
// attention over the prompt; the mask-and-regenerate section sits below it.
import { fmt, h } from '../dom.js';
import { button, checkedOf, panel, post, update, whenRendered } from '../panel.js';
import { stepTokenChip, stepTokenLabel, WHERE_LABEL, whereIs } from '../../src/shared/highlightLabels.js';
import { regenerateSection } from './regenerate.js';

export function highlightsTab(): HTMLElement {
  const { state } = panel;
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-highlights', tabindex: 0 });
  const hl = state.highlight;
  const head = h('div', { class: 'row' });
  head.append(
    button(hl ? 'Re-run highlights' : 'Show needle highlights', 'btn-inspect', () => post({ type: 'inspect' }), {
      secondary: Boolean(hl),
      // The quiet run after a detection is computing these very highlights.
      disabled: !state.map || Boolean(state.busy) || Boolean(state.background),
    }),
  );
  const topBox = h('vscode-checkbox', {
    'data-testid': 'highlight-top',
    label: 'top retrieval heads together',
    checked: hl ? hl.heads.startsWith('top') : false,
  });
  topBox.addEventListener('change', () => post({ type: 'highlightTop', top: checkedOf(topBox) }));
  head.append(topBox);
  root.append(head);
  if (!hl) {
    const hint = state.map
      ? 'Highlights run one generation on your text with a needle inserted, and show where the selected head reads at each generated token.'
      : 'Find retrieval heads on a document first.';
    root.append(h('p', { class: 'empty', 'data-testid': 'highlights-empty' }, hint));
  } else {
    const n = hl.steps.length;
    const step = Math.min(state.step, Math.max(0, n - 1));
    root.append(
      h(
        'div',
        { class: 'row' },
        h('span', { 'data-testid': 'highlight-heads' }, `Attention of ${hl.heads}`),
        ' · ',
        h('span', {}, `question: ${hl.question}`),
      ),
    );
    const label = n ? `step ${step + 1}/${n}: generating ${stepTokenLabel(hl.steps[step])}` : 'no tokens generated';
    root.append(
      h(
        'div',
        { class: 'row step-controls' },
        button('◀ Prev', 'btn-step-prev', () => setStep(step - 1), { secondary: true, disabled: step <= 0 }),
        h('span', { 'data-testid': 'step-label', 'data-step': step, 'data-steps': n }, label),
        button('Next ▶', 'btn-step-next', () => setStep(step + 1), { secondary: true, disabled: step >= n - 1 }),
      ),
    );
    const gen = h('div', { class: 'generated', 'data-testid': 'generated' }, h('span', { class: 'label' }, 'answer: '));
    hl.steps.forEach((t, i) => {
      const chip = stepTokenChip(t);
      const sp = h(
        'span',
        { class: `gen${i === step ? ' current' : ''}${chip !== t ? ' end' : ''}`, 'data-testid': `gen-token-${i}` },
        chip,
      );
      sp.addEventListener('click', () => setStep(i));
      gen.append(sp);
    });
    root.append(gen);
    const prompt = promptTokens(step);
    root.append(strongestLine(step), prompt);
    root.append(
      h(
        'p',
        { class: 'hint' },
        'Needle answer underlined in green, question in blue; orange = attention of the highlighted heads at this step (relative to the strongest, which is boxed). ← / → step.',
      ),
    );
  }
  root.append(h('vscode-divider'));
  root.append(regenerateSection());
  return root;
}

/** Where the strongest attention of this step lies, in words. */
function strongestLine(step: number): HTMLElement {
  const hl = panel.state.highlight!;
  const pos = hl.attention[step]?.pos[0];
  if (pos === undefined)
    return h('div', { class: 'strongest-line', 'data-testid': 'strongest-where', 'data-where': '' }, 'No attention at this step.');
  const where = whereIs(pos, hl.needleSpan, hl.questionSpan);
  return h(
    'div',
    { class: 'strongest-line', 'data-testid': 'strongest-where', 'data-where': where, 'data-pos': pos },
    'Strongest attention: token ',
    String(pos),
    ` ${JSON.stringify(hl.tokens[pos] ?? '')} `,
    h('span', { class: `where where-${where}` }, WHERE_LABEL[where]),
  );
}

/** The prompt box's scroll position per step, so a redraw of the same step keeps where the user scrolled. */
let shown: { key: string; scrollTop: number } | null = null;

function promptTokens(step: number): HTMLElement {
  const hl = panel.state.highlight!;
  const att = hl.attention[step] ?? { pos: [], w: [] };
  const weights = new Map<number, number>();
  const top = Math.max(1e-9, ...att.w);
  att.pos.forEach((p, i) => weights.set(p, att.w[i] / top));
  const strongest = att.pos[0];
  const where = strongest === undefined ? '' : whereIs(strongest, hl.needleSpan, hl.questionSpan);
  const text = h('div', { class: 'prompt', 'data-testid': 'prompt-tokens', 'data-strongest': strongest ?? '', 'data-where': where });
  let mark: HTMLElement | null = null;
  hl.tokens.forEach((t, i) => {
    const inNeedle = i >= hl.needleSpan[0] && i < hl.needleSpan[1];
    const inQuestion = i >= hl.questionSpan[0] && i < hl.questionSpan[1];
    const w = weights.get(i) ?? 0;
    const cls = `tok${inNeedle ? ' needle' : inQuestion ? ' question' : ''}${w > 0.02 ? ' attended' : ''}${i === strongest ? ' strongest' : ''}`;
    const sp = h('span', { class: cls, 'data-testid': `tok-${i}`, 'data-weight': w > 0 ? w.toFixed(3) : undefined }, t);
    if (w > 0) {
      sp.style.setProperty('--w', w.toFixed(3));
      sp.title = `token ${i}: weight ${fmt(att.w[att.pos.indexOf(i)], 4)}`;
    }
    text.append(sp);
    if (i === strongest) {
      // A tag after the strongest token says where it is, right where the eye lands.
      mark = h(
        'span',
        { class: `where-tag where-${where}`, 'data-testid': 'strongest-tag', 'aria-hidden': 'true' },
        WHERE_LABEL[where as keyof typeof WHERE_LABEL],
      );
      text.append(mark);
    }
  });
  const key = `${step}|${hl.heads}|${hl.tokens.length}|${strongest}`;
  whenRendered(() => {
    // The same step drawn again (a state update) keeps the user's scroll; a new step shows its strongest position.
    if (shown?.key === key) text.scrollTop = shown.scrollTop;
    else if (mark) {
      const tok = text.querySelector<HTMLElement>('.tok.strongest')!;
      text.scrollTop = Math.max(0, tok.offsetTop - text.clientHeight / 2 + tok.offsetHeight / 2);
    }
    shown = { key, scrollTop: text.scrollTop };
    text.addEventListener('scroll', () => (shown = { key, scrollTop: text.scrollTop }));
  });
  return text;
}

export function setStep(i: number): void {
  const n = panel.state.highlight?.steps.length ?? 0;
  const step = Math.max(0, Math.min(n - 1, i));
  if (step === panel.state.step) return;
  post({ type: 'setStep', step });
  update({ step });
}
