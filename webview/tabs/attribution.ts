// "Where did this answer come from?": the answer token by token (click one to highlight its sources
// in the editor, click again for the whole answer's), the grounding score, and the sources listed.
import { fmt, h } from '../dom.js';
import { button, panel, post, update } from '../panel.js';

export function attributionTab(): HTMLElement {
  const { state } = panel;
  const root = h('section', { class: 'tab-panel', 'data-testid': 'tab-panel-attribution' });
  const a = state.attribution;
  if (!a) {
    root.append(
      h(
        'p',
        { class: 'empty', 'data-testid': 'attribution-empty' },
        'Select text in an editor (or none, for the whole document) and ask a question: the answer shows, per token, which sentences the retrieval heads read.',
      ),
    );
    root.append(
      button('Where did this answer come from?…', 'btn-attribute-2', () => post({ type: 'command', command: 'attributeAnswer' }), {
        disabled: !state.map || Boolean(state.busy),
      }),
    );
    return root;
  }
  const g = a.grounding;
  root.append(
    h(
      'div',
      { class: 'summary', 'data-testid': 'attribution-summary' },
      h('strong', {}, a.document),
      ` · Q: ${a.question} · heads ${a.heads.join(', ')}`,
      a.contextChars < a.documentChars ? ` · the model read the first ${a.contextChars} of ${a.documentChars} characters` : '',
    ),
  );
  root.append(
    h(
      'div',
      { class: `grounding${g.low ? ' low' : ''}`, 'data-testid': 'grounding', 'data-score': g.score, 'data-low': String(g.low) },
      `Grounding ${fmt(100 * g.score, 0)}%: ${g.groundedTokens} of ${g.answerTokens} answer tokens read mostly the text`,
      g.low ? ` ⚠ low (below ${fmt(100 * g.threshold, 0)}%): the answer may not come from the text` : '',
    ),
  );
  const ans = h('div', { class: 'attr-answer', 'data-testid': 'attribution-answer', 'data-text': a.answer });
  a.tokens.forEach((t, i) => {
    const sel = a.selected === i;
    const span = h(
      'span',
      {
        class: `attr-token${sel ? ' selected' : ''}${t.contextShare <= 0.5 ? ' ungrounded' : ''}`,
        'data-testid': `attr-token-${i}`,
        'data-text': t.text,
        role: 'button',
        tabindex: 0,
        title: `${fmt(100 * t.contextShare, 0)}% of the retrieval heads' attention on the text; click to show its sources in the editor`,
      },
      t.text,
    );
    const pick = () => {
      post({ type: 'selectAttributionToken', index: sel ? null : i });
      update({ attribution: { ...a, selected: sel ? null : i } });
    };
    span.addEventListener('click', pick);
    span.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') (pick(), e.preventDefault());
    });
    ans.append(span);
  });
  root.append(h('h3', {}, 'Answer (click a token)'), ans);
  const which = a.selected === null ? 'the whole answer' : `token ${JSON.stringify(a.tokens[a.selected]?.text ?? '')}`;
  const sources = a.selected === null ? a.sources : (a.tokens[a.selected]?.sources ?? []);
  const list = h('ol', { class: 'attr-sources', 'data-testid': 'attribution-sources', 'data-for': a.selected ?? 'answer' });
  for (const s of sources)
    list.append(
      h(
        'li',
        { 'data-line': s.line },
        h('span', { class: 'weight' }, `${fmt(100 * s.weight, 0)}%`),
        `line ${s.line}: `,
        h('q', {}, s.text),
      ),
    );
  root.append(
    h('h3', {}, `Sources of ${which} (highlighted in the editor)`),
    sources.length ? list : h('p', { class: 'empty' }, 'No sources in the text.'),
  );
  return root;
}
