// "Mask and re-generate": the question, mask mode and scope, the masked heads, and the two answers
// side by side with the words that differ marked.
import type { RegenerateView } from '../../src/shared/webviewProtocol.js';
import { wordDiff } from '../../src/shared/wordDiff.js';
import { h } from '../dom.js';
import { button, checkedOf, maskBox, panel, post, valueOf, whenRendered } from '../panel.js';

/** Whether the last drawn answers were still being generated: when they arrive, they are scrolled into view. */
let wasBusy = false;

export function regenerateSection(): HTMLElement {
  const { state } = panel;
  const r = state.regenerate;
  const box = h('div', { class: 'regenerate', 'data-testid': 'regenerate' });
  box.append(h('h3', {}, 'Mask and re-generate'));
  const q = h('vscode-textfield', {
    'data-testid': 'question',
    placeholder: 'Question about the text',
    value: panel.question ?? r?.question ?? state.highlight?.question ?? '',
  });
  q.addEventListener('input', () => (panel.question = valueOf(q)));
  const mode = h(
    'vscode-single-select',
    { 'data-testid': 'mask-mode' },
    h('vscode-option', { value: 'uniform', selected: state.maskMode === 'uniform' }, 'uniform (paper)'),
    h('vscode-option', { value: 'zero', selected: state.maskMode === 'zero' }, 'zero output'),
  );
  mode.addEventListener('change', () => post({ type: 'setMaskMode', mode: valueOf(mode) === 'zero' ? 'zero' : 'uniform' }));
  const scope = h(
    'vscode-single-select',
    { 'data-testid': 'mask-scope' },
    h('vscode-option', { value: 'decode', selected: state.maskScope === 'decode' }, 'decode only (paper)'),
    h('vscode-option', { value: 'all', selected: state.maskScope === 'all' }, 'all positions'),
  );
  scope.addEventListener('change', () => post({ type: 'setMaskScope', scope: valueOf(scope) === 'all' ? 'all' : 'decode' }));
  const go = button(
    r?.busy ? 'Generating…' : 'Generate with and without masks',
    'btn-regenerate',
    () => post({ type: 'regenerate', question: valueOf(q) }),
    {
      disabled: !state.map || Boolean(state.busy),
    },
  );
  const decore = h('vscode-checkbox', {
    'data-testid': 'decore-toggle',
    label: 'DeCoRe',
    checked: state.decore,
    title:
      'Also decode contrastively (DeCoRe): the model against itself with the masked heads (or, with none masked, its retrieval heads) zeroed',
  });
  decore.addEventListener('change', () => post({ type: 'setDecore', on: checkedOf(decore) }));
  box.append(h('div', { class: 'row' }, q, go, decore));
  // The answers right under the button that made them, where the eye is; the settings they were made with below.
  if (r) box.append(...answers(r));
  box.append(
    h('div', { class: 'row nowrap', 'data-testid': 'mask-settings' }, h('label', {}, 'mask mode'), mode, h('label', {}, 'scope'), scope),
  );
  const masks = h('div', { class: 'row masks', 'data-testid': 'mask-list', 'data-count': state.masks.length });
  masks.append(
    state.masks.length ? `${state.masks.length} masked: ` : 'No heads masked (tick heads in the Head explorer or on the score map).',
  );
  for (const m of state.masks) masks.append(maskBox(m, `mask-chip-${m.layer}-${m.head}`, `${m.layer}-${m.head}`));
  box.append(masks);
  const arrived = wasBusy && r !== null && !r.busy;
  wasBusy = Boolean(r?.busy);
  if (arrived) whenRendered(() => box.scrollIntoView({ block: 'nearest' }));
  return box;
}

function answers(r: RegenerateView): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (r.error) out.push(h('p', { class: 'error', 'data-testid': 'regenerate-error' }, r.error));
  const d = r.plain !== null && r.masked !== null ? wordDiff(r.plain, r.masked) : null;
  const dd = r.plain !== null && r.decore ? wordDiff(r.plain, r.decore) : null;
  const col = (title: string, text: string | null, parts: { text: string; same: boolean }[] | null, testid: string, heads?: string[]) => {
    // data-heads: the heads this answer was generated with (a test then knows the answer is the new one).
    const p = h('div', {
      class: 'answer',
      'data-testid': testid,
      'data-text': text ?? '',
      ...(heads ? { 'data-heads': [...heads].sort().join(' ') } : {}),
    });
    p.append(h('div', { class: 'answer-title' }, title));
    const body = h('div', { class: 'answer-text' });
    if (text === null) body.append(r.busy ? '…' : '(not generated)');
    else if (parts)
      for (const part of parts) body.append(part.same ? part.text : h('mark', { class: 'diff', 'data-testid': 'diff-word' }, part.text));
    else body.append(text);
    p.append(body);
    return p;
  };
  const maskedTitle = r.maskedHeads.length
    ? `with ${r.maskedHeads.length} heads masked (${r.maskMode}, ${r.maskScope}): ${r.maskedHeads.join(', ')}`
    : 'with masks (none set)';
  const withDecore = Boolean(r.decoreHeads?.length);
  const cols = [
    col('without masks', r.plain, d?.a ?? null, 'answer-plain'),
    col(maskedTitle, r.masked, d?.b ?? null, 'answer-masked', r.maskedHeads),
  ];
  if (withDecore)
    cols.push(
      col(
        `DeCoRe (contrast with ${r.decoreHeads!.length} heads zeroed: ${r.decoreHeads!.join(', ')}; a = entropy)`,
        r.decore ?? null,
        dd?.b ?? null,
        'answer-decore',
      ),
    );
  out.push(h('div', { class: `answers${withDecore ? ' three' : ''}` }, ...cols));
  return out;
}
