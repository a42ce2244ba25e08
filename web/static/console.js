// console.js: the operators' console: the running jurisdiction policy's rules on a
// timeline (a table by effective date), a document to validate, stage and activate, and
// the dry run's counts of what the staged version would change (ids and counts only);
// then the sales pages (sales.js).

import { api, currentUser } from './api.js';
import { titled } from './brand.js';
import { h, toast } from './dom.js';
import { errorBox, showError } from './errors.js';
import { busy, page } from './layout.js';
import { navigate } from './router.js';
import { salesSections } from './sales.js';

const day = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });

export async function consolePage(view) {
  const me = await currentUser();
  if (!me) return navigate('/signin?next=/console', { replace: true });
  document.title = titled('Operator console');
  if (!me.operator) {
    page(view, me, h('h1', null, 'Operator console'),
      errorBox('Only operators may see the jurisdiction policy and sales. Ask an operator of this server to add your email address.'));
    return;
  }
  const running = h('section', { class: 'card', 'data-testid': 'policy-running' });
  const staged = h('p', { 'data-testid': 'policy-staged' });
  const status = h('div', { class: 'slot', role: 'status', 'data-testid': 'policy-status' });
  const doc = h('textarea', { name: 'document', rows: 16, spellcheck: 'false', class: 'code', 'aria-label': 'Policy document (YAML)' });
  const validateBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'policy-validate' }, 'Validate');
  const stageBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'policy-stage' }, 'Stage');
  const activateBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'policy-activate' }, 'Activate the staged version');
  const at = h('input', { type: 'date', name: 'at', 'aria-label': 'Decide at' });
  const dryBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'policy-dry-run-start' }, 'Dry run');
  const report = h('div', { 'data-testid': 'policy-dry-run' });

  async function refresh() {
    const p = await api.getPolicy();
    running.replaceChildren(h('h2', null, `Running: ${p.running.version || 'no rules'}`), rulesTable(p.running.rules));
    staged.textContent = p.staged ? `Staged: ${p.staged.version}, by ${p.staged.staged_by}.` : 'Nothing is staged.';
    activateBtn.disabled = !p.staged;
    if (!doc.value) doc.value = p.running.document;
  }
  const act = (button, task) => async () => {
    showError(status, null);
    try {
      await busy(button, task);
    } catch (err) {
      status.replaceChildren(problemsBox(err));
    }
  };
  validateBtn.addEventListener('click', act(validateBtn, async () => {
    const r = await api.validatePolicy(doc.value);
    status.replaceChildren(h('p', { class: 'alert alert-ok' }, `Version ${r.policy.version} loads: ${r.policy.rules.length} rules.`));
  }));
  stageBtn.addEventListener('click', act(stageBtn, async () => {
    await api.stagePolicy(doc.value);
    await refresh();
    toast('Staged. Dry-run it, then activate it.');
  }));
  activateBtn.addEventListener('click', act(activateBtn, async () => {
    const r = await api.activatePolicy();
    await refresh();
    const c = r.changes;
    status.replaceChildren(h('p', { class: 'alert alert-ok' },
      `Version ${r.running.version} is running. Rules added: ${c.added.join(', ') || 'none'}; removed: ${c.removed.join(', ') || 'none'}; changed: ${c.changed.join(', ') || 'none'}.`));
  }));
  dryBtn.addEventListener('click', act(dryBtn, async () => {
    const r = await api.dryRunPolicy(at.value ? `${at.value}T00:00:00Z` : '');
    report.replaceChildren(dryRunTable(r));
  }));

  page(view, me,
    h('div', { class: 'page-head' }, h('h1', null, 'Operator console'),
      h('p', { class: 'lead' }, 'Who may register, host, join and buy, where and from when; partners, prices and sales.')),
    running,
    h('section', { class: 'card stack' }, h('h2', null, 'New version'), staged, doc,
      h('div', { class: 'console-actions' }, validateBtn, stageBtn, activateBtn), status),
    h('section', { class: 'card stack' }, h('h2', null, 'Dry run of the staged version'),
      h('div', { class: 'console-actions' }, at, dryBtn), report),
    h('h2', { class: 'console-part' }, 'Sales'),
    salesSections());
  await refresh();
}

function rulesTable(rules) {
  if (!rules.length) return h('p', { class: 'muted' }, 'No rules: everything is allowed.');
  return h('table', { class: 'policy-table' },
    h('thead', null, h('tr', null, ['From', 'Until', 'Jurisdiction', 'Question', 'Effect', 'Rule', 'Message'].map((c) => h('th', null, c)))),
    h('tbody', null, rules.map((r) => h('tr', null,
      h('td', null, day.format(new Date(r.effective_from))),
      h('td', null, r.effective_until ? day.format(new Date(r.effective_until)) : ''),
      h('td', null, r.jurisdiction), h('td', null, r.question),
      h('td', null, r.requires ? `${r.effect} ${r.requires}` : r.effect),
      h('td', null, h('code', null, r.id)), h('td', null, r.message)))));
}

function dryRunTable(r) {
  return h('div', null,
    h('p', null, `From ${r.from_version || 'no rules'} to ${r.to_version}, at ${day.format(new Date(r.at))}.`),
    h('table', { class: 'policy-table' },
      h('thead', null, h('tr', null, ['Region', 'Kind', 'Subjects', 'Changed', 'Now refused', 'Now allowed'].map((c) => h('th', null, c)))),
      h('tbody', null, r.counts.map((c) => h('tr', null,
        [c.region, c.kind, c.subjects, c.changed, c.now_refused, c.now_allowed].map((v) => h('td', null, String(v))))))),
    r.changes.length ? h('ul', null, r.changes.map((c) =>
      h('li', null, h('code', null, c.id), ` (${c.kind}, ${c.region}): ${c.old_code} → ${c.new_code}${c.new_rule ? ` by ${c.new_rule}` : ''}`))) : null,
    h('p', { class: 'muted' }, r.replay.available ? `Decision log: ${r.replay.changed} would change.` : `Decision log: ${r.replay.note}.`));
}

// problemsBox shows a refused document's problems, one line each, or any other error.
function problemsBox(err) {
  if (!err?.problems?.length) return errorBox(err);
  return h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'error' },
    h('p', null, 'The document does not load; the running policy stays. Fix these:'),
    h('ul', null, err.problems.map((p) => h('li', null, h('code', null, `${p.file}:${p.line}`), ` ${p.message}`))));
}
