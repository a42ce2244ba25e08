// policyerror.js: a refusal by the jurisdiction policy in plain words: why (the rule's
// message), which rule of which jurisdiction since when, and what the person can do
// instead, with the authorized partners' contacts (PolicyRefusal in api/openapi.yaml).

import { h } from './dom.js';

const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: 'long', timeZone: 'UTC' });

/** policyReason is the refusal's one-line reason. */
export function policyReason(refusal) {
  return refusal.reason || refusal.message;
}

/** policyDetails are the nodes that follow the reason: the rule, and the alternatives. */
export function policyDetails(refusal) {
  const since = refusal.effective_from ? DATE.format(new Date(refusal.effective_from)) : '';
  const nodes = [h('p', { class: 'muted', 'data-testid': 'policy-rule' },
    `This is rule ${refusal.rule_id} for ${refusal.jurisdiction}${since ? `, in effect since ${since}` : ''}.`)];
  const alternatives = refusal.alternatives || [];
  if (alternatives.length) {
    nodes.push(h('p', null, h('strong', null, 'What you can do instead:')),
      h('ul', { class: 'alternatives', 'data-testid': 'policy-alternatives' }, alternatives.map(alternative)));
  }
  return nodes;
}

function alternative(alt) {
  const p = alt.partner;
  if (!p) return h('li', { dataset: { kind: alt.kind } }, alt.text);
  const c = p.contact || {};
  const contacts = [
    c.url && h('a', { href: c.url, rel: 'noopener noreferrer', target: '_blank' }, c.url),
    c.email && h('a', { href: `mailto:${c.email}` }, c.email),
    c.phone && h('a', { href: `tel:${c.phone.replace(/\s+/g, '')}` }, c.phone),
  ].filter(Boolean);
  const parts = [];
  contacts.forEach((node, i) => parts.push(i ? ', ' : ': ', node));
  return h('li', { dataset: { kind: alt.kind, partner: p.id } },
    `Buy and host through ${p.name}, an authorized ${p.kind === 'reseller' ? 'reseller' : 'partner'}`, parts);
}
