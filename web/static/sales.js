// sales.js: the operator console's sales pages: partners and resellers (brand, domain,
// support contact), price books per channel and currency, and the newest subscriptions
// and orders, of one channel or all. The server lets operators alone call these routes.

import { api } from './api.js';
import { h, toast } from './dom.js';
import { showError } from './errors.js';
import { busy, field, formValues, validate } from './layout.js';

const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** money says an amount in minor units of an ISO currency, e.g. 1500 USD as $15.00. */
function money(minor, currency) {
  try {
    const f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    return f.format(minor / 10 ** f.resolvedOptions().maximumFractionDigits);
  } catch {
    return `${minor} ${currency}`;
  }
}

function table(testid, columns, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted', 'data-testid': testid }, empty);
  return h('table', { class: 'policy-table', 'data-testid': testid },
    h('thead', null, h('tr', null, columns.map((c) => h('th', null, c)))),
    h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c) => h('td', null, c))))));
}

/** salesSections are the console's sales cards, loaded at once. */
export function salesSections() {
  return [partnersCard(), priceBooksCard(), activityCard()];
}

function partnersCard() {
  const list = h('div');
  const errors = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save partner');
  const form = h('form', { class: 'stack', 'data-testid': 'partner-form', novalidate: true },
    h('div', { class: 'row' },
      field('Id', { name: 'id', required: true, pattern: '[a-z0-9-]{2,64}', autocomplete: 'off' }, 'Lower-case letters, digits and dashes; the channel of its customers.'),
      field('Kind', { name: 'kind', value: 'oem', options: [['oem', 'OEM partner (its own brand)'], ['reseller', 'Reseller']] })),
    field('Company name', { name: 'name', required: true, maxlength: 200 }),
    h('fieldset', { class: 'stack' }, h('legend', null, 'Brand'),
      h('div', { class: 'row' },
        field('Product name', { name: 'brand_name', maxlength: 200 }),
        field('Domain', { name: 'domain', placeholder: 'meet.partner.example', autocomplete: 'off' }, 'The host name its brand is served on.')),
      field('Logo URL', { name: 'logo_url', type: 'url', placeholder: 'https://…' }),
      h('div', { class: 'row' },
        field('Primary colour', { name: 'primary_color', pattern: '#[0-9a-fA-F]{6}', placeholder: '#2b5d9b' }),
        field('Accent colour', { name: 'accent_color', pattern: '#[0-9a-fA-F]{6}', placeholder: '#f2a900' }))),
    h('fieldset', { class: 'stack' }, h('legend', null, 'First-line support for its customers'),
      h('div', { class: 'row' },
        field('Email', { name: 'support_email', type: 'email' }),
        field('Phone', { name: 'support_phone', type: 'tel' })),
      field('Web page', { name: 'support_url', type: 'url', placeholder: 'https://…' })),
    field('Jurisdictions', { name: 'jurisdictions', placeholder: 'US EU' }, 'Where it sells, separated by spaces (the policy decides where it may).'),
    errors, submit);

  const edit = (p) => {
    const set = (name, value) => { form.elements[name].value = value ?? ''; };
    set('id', p.id); set('kind', p.kind); set('name', p.name);
    set('brand_name', p.brand.name); set('domain', p.brand.domain); set('logo_url', p.brand.logo_url);
    set('primary_color', p.brand.primary_color); set('accent_color', p.brand.accent_color);
    set('support_email', p.support.email); set('support_phone', p.support.phone); set('support_url', p.support.url);
    set('jurisdictions', p.jurisdictions.join(' '));
    form.elements.name.focus();
  };
  const load = async () => {
    try {
      const ps = await api.listPartners();
      list.replaceChildren(table('partners-table', ['Id', 'Kind', 'Name', 'Brand', 'Domain', 'Support', ''],
        ps.map((p) => [h('code', null, p.id), p.kind, p.name, p.brand.name, p.brand.domain,
          [p.support.email, p.support.url, p.support.phone].filter(Boolean).join(', '),
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Edit ${p.id}`, onclick: () => edit(p) }, 'Edit')]),
        'No partners or resellers yet.'));
    } catch (err) {
      showError(errors, err);
    }
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const v = formValues(form);
    try {
      await busy(submit, () => api.putPartner(v.id, {
        kind: v.kind, name: v.name,
        brand: { name: v.brand_name, logo_url: v.logo_url, primary_color: v.primary_color, accent_color: v.accent_color, domain: v.domain },
        support: { email: v.support_email, url: v.support_url, phone: v.support_phone },
        jurisdictions: v.jurisdictions.split(/\s+/).filter(Boolean),
      }));
      showError(errors, null);
      toast(`Partner ${v.id} saved.`);
      await load();
    } catch (err) {
      showError(errors, err);
    }
  });
  load();
  return h('section', { class: 'card stack', 'data-testid': 'console-partners' },
    h('h2', null, 'Partners and resellers'), list, h('h3', null, 'Add or change one'), form);
}

function priceBooksCard() {
  const list = h('div');
  const errors = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save price book');
  const prices = h('textarea', { name: 'prices', rows: 4, spellcheck: 'false', class: 'code', 'aria-label': 'Prices', placeholder: 'pro month 1500\nbusiness year 29900' });
  const form = h('form', { class: 'stack', 'data-testid': 'price-book-form', novalidate: true },
    h('div', { class: 'row' },
      field('Channel', { name: 'channel', required: true, value: 'direct', autocomplete: 'off' }, '“direct”, or a partner’s id.'),
      field('Currency', { name: 'currency', required: true, pattern: '[A-Z]{3}', value: 'USD' })),
    h('p', { class: 'hint' }, 'One price a line: plan, interval (month or year), amount in minor units (cents). The lines replace the book.'),
    prices, errors, submit);
  const load = async () => {
    try {
      const books = await api.listPriceBooks();
      list.replaceChildren(table('price-books-table', ['Channel', 'Currency', 'Prices', ''],
        books.map((b) => [h('code', null, b.channel), b.currency,
          b.prices.map((p) => `${p.plan} ${p.interval}ly ${money(p.amount_minor, b.currency)}`).join(' · ') || 'none',
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Edit ${b.channel} ${b.currency}`, onclick: () => {
            form.elements.channel.value = b.channel;
            form.elements.currency.value = b.currency;
            prices.value = b.prices.map((p) => `${p.plan} ${p.interval} ${p.amount_minor}`).join('\n');
            prices.focus();
          } }, 'Edit')]),
        'No price books yet.'));
    } catch (err) {
      showError(errors, err);
    }
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const v = formValues(form);
    const lines = prices.value.split('\n').map((l) => l.trim()).filter(Boolean);
    const parsed = lines.map((l) => l.split(/\s+/));
    const bad = parsed.findIndex((p) => p.length !== 3 || !/^\d+$/.test(p[2]));
    if (bad >= 0) {
      showError(errors, `Line ${bad + 1}: write plan, interval and amount in minor units, e.g. “pro month 1500”.`);
      return;
    }
    try {
      await busy(submit, () => api.putPriceBook(v.channel, v.currency,
        parsed.map(([plan, interval, amount]) => ({ plan, interval, amount_minor: Number(amount) }))));
      showError(errors, null);
      toast(`Price book ${v.channel} ${v.currency} saved.`);
      await load();
    } catch (err) {
      showError(errors, err);
    }
  });
  load();
  return h('section', { class: 'card stack', 'data-testid': 'console-price-books' },
    h('h2', null, 'Price books'), list, h('h3', null, 'Put a price book'), form);
}

function activityCard() {
  const errors = h('div', { class: 'slot' });
  const subs = h('div');
  const orders = h('div');
  const channel = h('input', { type: 'text', name: 'channel_filter', placeholder: 'every channel', 'aria-label': 'Channel', autocomplete: 'off' });
  const show = h('button', { type: 'submit', class: 'btn' }, 'Show');
  const form = h('form', { class: 'inline-form', 'data-testid': 'sales-filter' }, channel, show);
  const load = async () => {
    showError(errors, null);
    try {
      const c = channel.value.trim();
      const [ss, os] = await Promise.all([api.listAllSubscriptions(c), api.listAllOrders(c)]);
      subs.replaceChildren(table('subscriptions-table', ['Started', 'Account', 'Channel', 'Plan', 'Price', 'Status', 'Renews'],
        ss.map((s) => [when.format(new Date(s.created_at)), h('code', null, s.account_id), s.channel, `${s.plan} (${s.interval}ly)`,
          money(s.amount_minor, s.currency), s.status, when.format(new Date(s.renews_at))]),
        'No subscriptions.'));
      orders.replaceChildren(table('orders-table', ['Placed', 'Account', 'Channel', 'Kind', 'Plan', 'Amount', 'Country', 'Status'],
        os.map((o) => [when.format(new Date(o.created_at)), h('code', null, o.account_id), o.channel, o.kind, `${o.plan} (${o.interval}ly)`,
          money(o.amount_minor, o.currency), o.billing_country, o.status]),
        'No orders.'));
    } catch (err) {
      showError(errors, err);
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(show, load);
  });
  load();
  return h('section', { class: 'card stack', 'data-testid': 'console-sales' },
    h('h2', null, 'Subscriptions and orders'), h('p', { class: 'muted' }, 'Newest first, the latest 200 of each.'),
    form, errors, h('h3', null, 'Subscriptions'), subs, h('h3', null, 'Orders'), orders);
}
