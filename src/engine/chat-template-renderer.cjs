// Renders one chat template, in a process of its own (see chatTemplate.ts): reads
// {template, items, maxChars} as JSON on stdin, writes {text} or {error} as JSON on stdout.
// Plain CommonJS so that the sources run it as they are; the build bundles it (with Jinja) into
// dist/chat-template-renderer.js.
'use strict';
const { Template } = require('@huggingface/jinja');

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  let reply;
  try {
    const { template, items, maxChars } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const text = new Template(template).render(items);
    if (typeof text !== 'string') reply = { error: 'it did not render to text' };
    else if (text.length > maxChars) reply = { error: `it rendered ${text.length} characters, more than the ${maxChars} accepted` };
    else reply = { text };
  } catch (e) {
    reply = { error: String((e && e.message) || e) };
  }
  process.stdout.write(JSON.stringify(reply));
});
