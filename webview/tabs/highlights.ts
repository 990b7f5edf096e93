// The needle-highlights tab: one generation stepped token by token, with the selected head's
// attention over the prompt; the mask-and-regenerate section sits below it.
import { fmt, h } from '../dom.js';
import { button, checkedOf, panel, post, update } from '../panel.js';
import { regenerateSection } from './regenerate.js';

export function highlightsTab(): HTMLElement {
  const { state } = panel;
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-highlights', tabindex: 0 });
  const hl = state.highlight;
  const head = h('div', { class: 'row' });
  head.append(
    button(hl ? 'Re-run highlights' : 'Show needle highlights', 'btn-inspect', () => post({ type: 'inspect' }), {
      secondary: Boolean(hl),
      disabled: !state.map || Boolean(state.busy),
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
    const label = n ? `step ${step + 1}/${n}: generating ${JSON.stringify(hl.steps[step])}` : 'no tokens generated';
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
      const sp = h('span', { class: `gen${i === step ? ' current' : ''}`, 'data-testid': `gen-token-${i}` }, t || '∅');
      sp.addEventListener('click', () => setStep(i));
      gen.append(sp);
    });
    root.append(gen);
    root.append(promptTokens(step));
    root.append(
      h(
        'p',
        { class: 'hint' },
        'Needle answer span underlined; background = attention of the highlighted heads at this step (relative to the strongest). ← / → step.',
      ),
    );
  }
  root.append(h('vscode-divider'));
  root.append(regenerateSection());
  return root;
}

function promptTokens(step: number): HTMLElement {
  const hl = panel.state.highlight!;
  const att = hl.attention[step] ?? { pos: [], w: [] };
  const weights = new Map<number, number>();
  const top = Math.max(1e-9, ...att.w);
  att.pos.forEach((p, i) => weights.set(p, att.w[i] / top));
  const strongest = att.pos[0];
  const text = h('div', { class: 'prompt', 'data-testid': 'prompt-tokens', 'data-strongest': strongest ?? '' });
  hl.tokens.forEach((t, i) => {
    const inNeedle = i >= hl.needleSpan[0] && i < hl.needleSpan[1];
    const w = weights.get(i) ?? 0;
    const cls = `tok${inNeedle ? ' needle' : ''}${w > 0.02 ? ' attended' : ''}${i === strongest ? ' strongest' : ''}`;
    const sp = h('span', { class: cls, 'data-testid': `tok-${i}`, 'data-weight': w > 0 ? w.toFixed(3) : undefined }, t);
    if (w > 0) {
      sp.style.setProperty('--w', w.toFixed(3));
      sp.title = `token ${i}: weight ${fmt(att.w[att.pos.indexOf(i)], 4)}`;
    }
    text.append(sp);
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
