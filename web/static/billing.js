// billing.js: the account's plan and billing on the settings page: the plan and current
// subscription, the prices of the account's sales channel, subscribing or upgrading
// (owners and admins only), and the invoices. Whether a sale may happen is the server's
// decision (the jurisdiction policy's, at that moment, by the billing country): a refusal
// is said in plain words with what to do instead and the partners' contacts
// (policyerror.js, through errors.js).
//
// There is no real payment processor's card form yet: when the server takes payments, the
// payment method is a token typed into a field labelled as such. A provider's own form,
// which turns a card into that token in the browser, replaces the field (docs/commerce.md).

import { api, currentUser } from './api.js';
import { h } from './dom.js';
import { showError } from './errors.js';
import { busy, field, formValues, validate } from './layout.js';

const RANK = { free: 0, pro: 1, business: 2, enterprise: 3 };
const INTERVAL = { month: 'Monthly', year: 'Yearly' };
const day = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

/** money formats an amount in minor units (cents) of an ISO 4217 currency. */
export function money(minor, currency) {
  const format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
  return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
}

/** billingCard is the "Plan and billing" card; it loads what it shows itself. */
export function billingCard() {
  const errors = h('div', { class: 'slot', 'data-testid': 'billing-errors' });
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading your plan…'));
  const card = h('section', { class: 'card card-wide billing-card', 'data-testid': 'billing-card' },
    h('h2', null, 'Plan and billing'), body);

  async function load(status) {
    try {
      const [me, current, invoices] = await Promise.all([currentUser(), api.subscription(), api.invoices()]);
      const sub = current.subscription;
      let book = null;
      try {
        book = await api.plans(sub?.currency);
      } catch (err) {
        if (err.code !== 'no_price') throw err;
      }
      body.replaceChildren(...render({ me, sub, support: current.support, book, invoices, status, errors, buy }));
    } catch (err) {
      if (!body.contains(errors)) body.replaceChildren(errors);
      showError(errors, err);
    }
  }

  // buy checks out one plan: a new subscription, or an upgrade of the current one. Each
  // attempt has a key of its own; a retry of the same request on a stale CSRF token keeps it.
  async function buy(button, form, { kind, plan, interval, currency }, support) {
    if (!validate(form, errors)) return;
    const values = formValues(form);
    const request = { kind, plan, interval, currency, billing_country: values.billing_country.toUpperCase() };
    if (values.payment_token !== undefined) request.payment_token = values.payment_token;
    try {
      const receipt = await busy(button, () => api.checkout(request, idempotencyKey()));
      showError(errors, null);
      const done = kind === 'upgrade' ? `Your plan is upgraded to ${capitalize(plan)}.` : `You are subscribed to ${capitalize(plan)}.`;
      await load(`${done} ${receipt.invoice ? `You were charged ${money(receipt.invoice.amount_minor, receipt.invoice.currency)}; the invoice is below.` : ''}`);
    } catch (err) {
      if (err.code === 'payments_unavailable') showError(errors, paymentsUnavailable(support));
      else showError(errors, err);
    }
  }

  load();
  return card;
}

// render draws the card's content; errors (the slot of refusals) goes under the prices
// and the form, next to the buttons that cause them.
function render({ me, sub, support, book, invoices, status, errors, buy }) {
  const canBuy = me.user.role === 'owner' || me.user.role === 'admin';
  const plan = sub?.plan || me.account.plan;
  const nodes = [
    status && h('p', { class: 'alert alert-ok', role: 'status', 'data-testid': 'billing-status' }, status),
    h('dl', { class: 'facts', 'data-testid': 'billing-plan' },
      h('dt', null, 'Plan'), h('dd', { 'data-testid': 'billing-plan-name' }, capitalize(plan)),
      h('dt', null, 'Subscription'), h('dd', { 'data-testid': 'billing-subscription' }, sub ? describeSubscription(sub) : 'None'),
      h('dt', null, 'Billing and support'), h('dd', null, contactLine(support))),
  ];
  if (!book || !book.prices.length) {
    nodes.push(h('p', { class: 'muted' }, 'No plans are on sale to your account here. ', contactSentence(support)), errors);
  } else {
    const form = h('form', { class: 'stack', 'data-testid': 'billing-form', novalidate: true, onsubmit: (e) => e.preventDefault() });
    const offers = book.payments && canBuy;
    if (offers) {
      form.append(
        field('Billing country', {
          name: 'billing_country', required: true, minlength: 2, maxlength: 2, pattern: '[A-Za-z]{2}', autocomplete: 'off',
          value: sub?.billing_country || me.account.billing_country || me.account.country || '',
        }, 'The country of your billing address, as its two-letter code (US, DE, CN). What can be sold to you online depends on it.'),
        field('Payment method (token from your payment provider)', {
          name: 'payment_token', required: true, maxlength: 256, autocomplete: 'off', spellcheck: 'false',
        }, 'Meridian never sees card numbers: your payment provider turns a card into this token.'));
    }
    nodes.push(
      h('h3', null, `Prices (${book.currency})`),
      h('table', { class: 'billing-table', 'data-testid': 'billing-prices' },
        h('thead', null, h('tr', null, h('th', null, 'Plan'), h('th', null, 'Billed'), h('th', null, 'Price'), offers && h('th', null, h('span', { class: 'sr-only' }, 'Action')))),
        h('tbody', null, book.prices.map((p) => h('tr', { dataset: { plan: p.plan, interval: p.interval } },
          h('td', null, capitalize(p.plan)), h('td', null, INTERVAL[p.interval] || p.interval),
          h('td', null, `${money(p.amount_minor, p.currency)} a ${p.interval}`),
          offers && h('td', null, offer(p, sub, (button, kind) =>
            buy(button, form, { kind, plan: p.plan, interval: p.interval, currency: p.currency }, support))))))));
    if (offers) nodes.push(form);
    else if (!book.payments) nodes.push(h('div', { class: 'alert alert-warn', 'data-testid': 'payments-unavailable' }, paymentsUnavailable(support)));
    else nodes.push(h('p', { class: 'muted', 'data-testid': 'billing-owners-only' }, 'Only owners and admins of the account can subscribe or change its plan.'));
    nodes.push(errors);
  }
  nodes.push(h('h3', null, 'Invoices'), invoiceList(invoices));
  return nodes.filter(Boolean);
}

// offer is a price's button: Subscribe without a subscription, Upgrade to a bigger plan
// of the subscription's interval; nothing for the others.
function offer(price, sub, buy) {
  let kind;
  if (!sub) kind = 'new';
  else if (price.interval === sub.interval && RANK[price.plan] > RANK[sub.plan]) kind = 'upgrade';
  else return price.plan === sub.plan && price.interval === sub.interval ? h('span', { class: 'muted' }, 'Your plan') : null;
  const button = h('button', {
    type: 'button', class: 'btn btn-small btn-primary', 'data-testid': 'billing-buy', dataset: { kind },
    'aria-label': `${kind === 'new' ? 'Subscribe to' : 'Upgrade to'} ${capitalize(price.plan)}, billed ${price.interval}ly`,
  }, kind === 'new' ? 'Subscribe' : 'Upgrade');
  button.addEventListener('click', () => buy(button, kind));
  return button;
}

function describeSubscription(sub) {
  const what = `${capitalize(sub.plan)}, ${money(sub.amount_minor, sub.currency)} a ${sub.interval}, billed to ${sub.billing_country}`;
  const until = day.format(new Date(sub.renews_at));
  switch (sub.status) {
    case 'cancelled': return `${what}. Cancelled: it ends on ${until}.`;
    case 'past_due': return `${what}. The last payment was declined; it ends on ${until} unless it is renewed.`;
    default: return `${what}. Renews on ${until}.`;
  }
}

function invoiceList(invoices) {
  if (!invoices.length) return h('p', { class: 'muted', 'data-testid': 'invoices' }, 'No invoices yet.');
  return h('table', { class: 'billing-table', 'data-testid': 'invoices' },
    h('thead', null, h('tr', null, h('th', null, 'Issued'), h('th', null, 'Description'), h('th', null, 'Amount'), h('th', null, 'Seller'))),
    h('tbody', null, invoices.map((v) => h('tr', { 'data-testid': 'invoice', dataset: { invoiceId: v.id } },
      h('td', null, day.format(new Date(v.issued_at))), h('td', null, v.description),
      h('td', null, money(v.amount_minor, v.currency)),
      h('td', null, v.seller.name, v.seller.contact ? h('span', { class: 'muted' }, ` (${v.seller.contact})`) : null)))));
}

// paymentsUnavailable says that this server takes no payments online, and whom to ask.
function paymentsUnavailable(support) {
  return h('p', null, 'Online payment is not set up on this server, so plans cannot be bought here. ', contactSentence(support));
}

function contactSentence(support) {
  const links = contactLinks(support);
  if (!links.length) return `To subscribe, contact ${support.name}.`;
  return [`To subscribe, contact ${support.name}: `, links, '.'];
}

function contactLine(support) {
  const links = contactLinks(support);
  return links.length ? [`${support.name}: `, links] : support.name;
}

function contactLinks(s) {
  const links = [
    s.email && h('a', { href: `mailto:${s.email}` }, s.email),
    s.url && h('a', { href: s.url, rel: 'noopener noreferrer', target: '_blank' }, s.url),
    s.phone && h('a', { href: `tel:${s.phone.replace(/\s+/g, '')}` }, s.phone),
  ].filter(Boolean);
  return links.flatMap((link, i) => (i ? [', ', link] : [link]));
}

// idempotencyKey is a new random key for one checkout attempt. crypto.randomUUID needs a
// secure context; over plain http to another host than localhost, the key is made from
// crypto.getRandomValues, which has no such condition.
function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function capitalize(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : '';
}
