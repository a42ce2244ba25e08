// console.js: the operators' policy console: the running jurisdiction policy's rules, each
// jurisdiction's rules on a timeline (the running and the staged version), a document to
// validate, stage and activate, the staged version's dry run per region with the replay of
// the decision log (ids and counts only), and the decision log itself, filtered by rule,
// jurisdiction and outcome; then the sales pages (sales.js).

import { api, currentUser } from './api.js';
import { titled } from './brand.js';
import { h, toast } from './dom.js';
import { errorBox, showError } from './errors.js';
import { busy, page } from './layout.js';
import { navigate } from './router.js';
import { salesSections } from './sales.js';

const day = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
const moment = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

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
  const timeline = h('section', { class: 'card', 'data-testid': 'policy-timeline' });
  const staged = h('p', { 'data-testid': 'policy-staged' });
  const status = h('div', { class: 'slot', role: 'status', 'data-testid': 'policy-status' });
  const doc = h('textarea', { name: 'document', rows: 16, spellcheck: 'false', class: 'code', 'aria-label': 'Policy document (YAML)' });
  const validateBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'policy-validate' }, 'Validate');
  const stageBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'policy-stage' }, 'Stage');
  const activateBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'policy-activate' }, 'Activate the staged version');
  const at = h('input', { type: 'date', name: 'at', 'aria-label': 'Decide at' });
  const dryBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'policy-dry-run-start' }, 'Dry run');
  const report = h('div', { 'data-testid': 'policy-dry-run' });
  const filters = {
    rule: h('select', { name: 'decision-rule', 'aria-label': 'Rule' }),
    jurisdiction: h('select', { name: 'decision-jurisdiction', 'aria-label': 'Jurisdiction' }),
    outcome: h('select', { name: 'decision-outcome', 'aria-label': 'Outcome' },
      h('option', { value: '' }, 'Any outcome'), h('option', { value: 'allowed' }, 'Allowed'), h('option', { value: 'refused' }, 'Refused')),
  };
  const decisions = h('div', { 'data-testid': 'policy-decisions' });

  async function refresh() {
    const p = await api.getPolicy();
    running.replaceChildren(h('h2', null, `Running: ${p.running.version || 'no rules'}`),
      h('p', { class: 'muted', 'data-testid': 'policy-origin' }, originText(p.running)), rulesTable(p.running.rules));
    staged.textContent = p.staged ? `Staged: ${p.staged.version}, by ${p.staged.staged_by}.` : 'Nothing is staged.';
    activateBtn.disabled = !p.staged;
    if (!doc.value) doc.value = p.running.document;
    timeline.replaceChildren(h('h2', null, 'Rules by jurisdiction'), timelineView(p.running, p.staged));
    fillFilters(filters, [p.running, p.staged].filter(Boolean));
  }
  async function loadDecisions() {
    const r = await api.policyDecisions({ rule: filters.rule.value, jurisdiction: filters.jurisdiction.value, outcome: filters.outcome.value, limit: 100 });
    decisions.replaceChildren(decisionsTable(r.decisions));
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
    report.replaceChildren(dryRunView(r));
  }));
  for (const f of Object.values(filters)) {
    f.addEventListener('change', async () => {
      try {
        await loadDecisions();
      } catch (err) {
        decisions.replaceChildren(errorBox(err));
      }
    });
  }

  page(view, me,
    h('div', { class: 'page-head' }, h('h1', null, 'Operator console'),
      h('p', { class: 'lead' }, 'Who may register, host, join and buy, where and from when; partners, prices and sales.')),
    running,
    timeline,
    h('section', { class: 'card stack' }, h('h2', null, 'New version'), staged, doc,
      h('div', { class: 'console-actions' }, validateBtn, stageBtn, activateBtn), status),
    h('section', { class: 'card stack' }, h('h2', null, 'Dry run of the staged version'),
      h('div', { class: 'console-actions' }, at, dryBtn), report),
    h('section', { class: 'card stack' }, h('h2', null, 'Decision log'),
      h('p', { class: 'muted' }, 'This region\'s policy decisions, newest first: the facts they were made from, never a name or an address.'),
      h('div', { class: 'console-actions' }, filters.rule, filters.jurisdiction, filters.outcome), decisions),
    h('h2', { class: 'console-part' }, 'Sales'),
    salesSections());
  await refresh();
  await loadDecisions();
}

function originText(d) {
  if (d.origin === 'activated') return `Activated by ${d.activated_by} on ${moment.format(new Date(d.activated_at))}; a restart runs it.`;
  if (d.origin === 'file') return `From the configuration's policy file ${d.name}.`;
  return 'No policy file, nothing activated.';
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

// timelineView draws each jurisdiction's rules as bars from effective_from to
// effective_until (open-ended to the right edge), the running version's and the staged
// one's, on one time axis, with today marked.
function timelineView(run, next) {
  const versions = [['running', run], ['staged', next]].filter(([, d]) => d && d.rules.length);
  if (!versions.length) return h('p', { class: 'muted' }, 'No rules: everything is allowed.');
  const now = Date.now();
  const times = [now];
  for (const [, d] of versions) {
    for (const r of d.rules) {
      times.push(Date.parse(r.effective_from));
      if (r.effective_until) times.push(Date.parse(r.effective_until));
    }
  }
  const start = Math.min(...times);
  const end = Math.max(...times) + 0.08 * (Math.max(...times) - start || 86400000);
  const pos = (t) => `${(100 * (t - start)) / (end - start)}%`;
  const byJur = new Map();
  for (const [kind, d] of versions) {
    for (const r of d.rules) {
      if (!byJur.has(r.jurisdiction)) byJur.set(r.jurisdiction, []);
      byJur.get(r.jurisdiction).push({ kind, version: d.version, r });
    }
  }
  const axis = h('div', { class: 'timeline-axis' },
    h('span', null, day.format(new Date(start))), h('span', null, `today ${day.format(new Date(now))}`), h('span', null, day.format(new Date(end))));
  return h('div', { class: 'timeline' }, axis,
    [...byJur.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([jur, items]) =>
      h('div', { class: 'timeline-jurisdiction', 'data-testid': 'timeline-jurisdiction', 'data-jurisdiction': jur },
        h('h3', null, jur),
        items.map(({ kind, version, r }) => {
          const from = Date.parse(r.effective_from);
          const until = r.effective_until ? Date.parse(r.effective_until) : end;
          const bar = h('div', { class: `timeline-bar timeline-${kind}`, title: r.message },
            `${r.question} ${r.effect}${r.requires ? ` ${r.requires}` : ''}`);
          // Positioned through the CSSOM: the page's CSP allows no inline style attribute.
          bar.style.left = pos(from);
          bar.style.width = `calc(${pos(until)} - ${pos(from)})`;
          const today = h('div', { class: 'timeline-now', 'aria-hidden': 'true' });
          today.style.left = pos(now);
          return h('div', { class: 'timeline-row', 'data-testid': 'timeline-rule', 'data-rule': r.id, 'data-version': kind },
            h('div', { class: 'timeline-label' }, h('code', null, r.id), ` ${kind} ${version}`,
              h('br'), h('span', { class: 'muted' }, `${day.format(new Date(from))} – ${r.effective_until ? day.format(new Date(until)) : 'open'}`)),
            h('div', { class: 'timeline-track' }, today, bar));
        }))));
}

// fillFilters offers the rule ids and jurisdictions of the documents, keeping the choice.
function fillFilters(filters, docs) {
  const rules = new Set();
  const jurs = new Set();
  for (const d of docs) {
    for (const r of d.rules) {
      rules.add(r.id);
      jurs.add(r.jurisdiction);
    }
  }
  for (const [el, all, values] of [[filters.rule, 'Any rule', rules], [filters.jurisdiction, 'Any jurisdiction', jurs]]) {
    const keep = el.value;
    el.replaceChildren(h('option', { value: '' }, all), ...[...values].sort().map((v) => h('option', { value: v }, v)));
    if (values.has(keep)) el.value = keep;
  }
}

function decisionsTable(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'No decision matches.');
  return h('table', { class: 'policy-table' },
    h('thead', null, h('tr', null, ['When', 'Question', 'Subject', 'Outcome', 'Rule', 'Jurisdiction', 'Version', 'Count', 'Facts'].map((c) => h('th', null, c)))),
    h('tbody', null, list.map((d) => h('tr', { 'data-testid': 'decision', 'data-allowed': String(d.allowed) },
      h('td', null, moment.format(new Date(d.at))), h('td', null, d.question),
      h('td', null, d.subject ? h('code', null, d.subject) : '–'),
      h('td', null, d.allowed ? 'allowed' : `refused: ${d.code}`),
      h('td', null, d.rule_id ? h('code', null, d.rule_id) : ''), h('td', null, d.jurisdiction || ''),
      h('td', null, d.policy_version || ''), h('td', null, String(d.count)),
      h('td', { class: 'muted' }, d.facts ? Object.entries(d.facts).map(([k, v]) => `${k}=${v}`).join(' ') : 'summed')))));
}

function dryRunView(r) {
  const replay = r.replay;
  return h('div', { class: 'stack' },
    h('p', null, `From ${r.from_version || 'no rules'} to ${r.to_version}, at ${day.format(new Date(r.at))}.`),
    h('table', { class: 'policy-table', 'data-testid': 'policy-dry-run-regions' },
      h('thead', null, h('tr', null, ['Region', 'Answered', 'Runs', 'Subjects', 'Changed', 'Decisions replayed', 'Would change'].map((c) => h('th', null, c)))),
      h('tbody', null, r.regions.map((g) => h('tr', { 'data-region': g.region, 'data-answered': String(g.answered) },
        h('td', null, g.region),
        g.answered
          ? [h('td', null, 'yes'), h('td', null, g.from_version || 'no rules'), h('td', null, String(g.subjects)), h('td', null, String(g.changed)),
            h('td', null, String(g.replay.decisions)), h('td', null, String(g.replay.changed))]
          : h('td', { colspan: 6, class: 'alert alert-error' }, `did not answer: ${g.error}. Its subjects are not counted.`))))),
    h('table', { class: 'policy-table' },
      h('thead', null, h('tr', null, ['Region', 'Kind', 'Subjects', 'Changed', 'Now refused', 'Now allowed'].map((c) => h('th', null, c)))),
      h('tbody', null, r.counts.map((c) => h('tr', null,
        [c.region, c.kind, c.subjects, c.changed, c.now_refused, c.now_allowed].map((v) => h('td', null, String(v))))))),
    r.changes.length ? h('ul', null, r.changes.map((c) =>
      h('li', null, h('code', null, c.id), ` (${c.kind}, ${c.region}): ${c.old_code} → ${c.new_code}${c.new_rule ? ` by ${c.new_rule}` : ''}`))) : null,
    h('div', { 'data-testid': 'policy-replay' },
      replay.available
        ? h('p', null, `Decision log since ${day.format(new Date(replay.since))}: ${replay.decisions} decisions replayed, ${replay.changed} would change (${replay.now_refused} now refused, ${replay.now_allowed} now allowed)${replay.skipped ? `; ${replay.skipped} could not be replayed` : ''}.`)
        : h('p', { class: 'muted' }, `Decision log: ${replay.note}.`),
      replay.changes.length ? h('ul', null, replay.changes.map((c) =>
        h('li', null, `${moment.format(new Date(c.at))} ${c.question} of `, c.subject ? h('code', null, c.subject) : 'a sign-up',
          ` (${c.region}${c.count > 1 ? `, ×${c.count}` : ''}): ${c.old_code} → ${c.new_code}${c.new_rule ? ` by ${c.new_rule}` : ''}`))) : null));
}

// problemsBox shows a refused document's problems, one line each, or any other error.
function problemsBox(err) {
  if (!err?.problems?.length) return errorBox(err);
  return h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'error' },
    h('p', null, 'The document does not load; the running policy stays. Fix these:'),
    h('ul', null, err.problems.map((p) => h('li', null, h('code', null, `${p.file}:${p.line}`), ` ${p.message}`))));
}
