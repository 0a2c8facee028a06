// axe-core for the browser scripts: its source from node_modules, to put
// into every page of a context (no network), and a page's violations of
// serious or critical impact, one line each.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const axeViolations = (page) => page.evaluate(async () => {
  const res = await window.axe.run(document, { resultTypes: ['violations'] });
  return res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((x) => x.target.join(' ')).join(', ')}`);
});
