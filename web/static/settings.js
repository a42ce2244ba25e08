// settings.js: the account page: who you are, your password, signing out, the account's
// members (members.js), the data-center regions that carry the account's meetings
// (regions.js), from which countries participants may join them (entry.js), and the
// account's API keys (a new key's secret is shown once, right after it is made).

import { api, currentUser } from './api.js';
import { brandName, titled } from './brand.js';
import { billingCard } from './billing.js';
import { copyText, h, icon, toast } from './dom.js';
import { showError } from './errors.js';
import { busy, checkbox, field, formValues, page, validate } from './layout.js';
import { membersCard } from './members.js';
import { entryCard } from './entry.js';
import { regionsCard } from './regions.js';
import { navigate } from './router.js';

const SCOPES = [
  ['meetings:read', 'Read meetings'],
  ['meetings:write', 'Create and end meetings'],
  ['account:read', 'Read account details'],
  ['keys:read', 'List API keys'],
  ['keys:write', 'Create and revoke API keys'],
  ['members:read', 'List members and invitations'],
  ['members:write', 'Invite, change and remove members'],
];

const day = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

export async function settingsPage(view) {
  const me = await currentUser();
  if (!me) return navigate('/signin?next=/settings', { replace: true });
  document.title = titled('Settings');
  const { user, account } = me;
  const signOut = h('button', { type: 'button', class: 'btn', 'data-testid': 'sign-out' }, icon('leave'), 'Sign out');
  const signOutErrors = h('div', { class: 'slot' });
  signOut.addEventListener('click', async () => {
    try {
      await busy(signOut, () => api.signOut());
      navigate('/');
    } catch (err) {
      showError(signOutErrors, err);
    }
  });
  page(view, me,
    h('div', { class: 'page-head' }, h('h1', null, 'Settings')),
    h('div', { class: 'cards settings' },
      h('section', { class: 'card' },
        h('h2', null, 'Your profile'),
        h('dl', { class: 'facts' },
          h('dt', null, 'Name'), h('dd', { 'data-testid': 'profile-name' }, user.display_name),
          h('dt', null, 'Email'), h('dd', null, user.email),
          h('dt', null, 'Role'), h('dd', null, capitalize(user.role)),
          h('dt', null, 'Account'), h('dd', null, account.name),
          h('dt', null, 'Plan'), h('dd', null, capitalize(account.plan))),
        signOutErrors, signOut),
      supportCard(me.support),
      passwordCard(user.email),
      membersCard(me),
      billingCard(),
      regionsCard(),
      entryCard(),
      keysCard()));
}

// supportCard says where the account gets help first: its reseller or partner, or the
// operator.
function supportCard(support) {
  if (!support) return null;
  const rows = [];
  if (support.email) rows.push(h('dt', null, 'Email'), h('dd', null, h('a', { href: `mailto:${support.email}`, 'data-testid': 'support-email' }, support.email)));
  if (/^https:\/\//.test(support.url ?? '')) rows.push(h('dt', null, 'Web'), h('dd', null, h('a', { href: support.url, rel: 'noopener', target: '_blank' }, support.url)));
  if (support.phone) rows.push(h('dt', null, 'Phone'), h('dd', null, h('a', { href: `tel:${support.phone.replace(/[^+0-9]/g, '')}` }, support.phone)));
  return h('section', { class: 'card support-contact', 'data-testid': 'support-contact' },
    h('h2', null, 'Help and support'),
    h('p', { class: 'muted' }, 'Questions about your account, billing or meetings go first to ',
      h('strong', { 'data-testid': 'support-name' }, support.name), '.'),
    h('dl', { class: 'facts' }, rows));
}

function capitalize(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : '';
}

function passwordCard(email) {
  const errors = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Change password');
  const form = h('form', { class: 'stack', 'data-testid': 'password-form', novalidate: true },
    // For password managers: whose password this is.
    h('input', { type: 'email', name: 'username', autocomplete: 'username', value: email, readonly: true, hidden: true }),
    field('Current password', { name: 'current_password', type: 'password', autocomplete: 'current-password', required: true }),
    field('New password', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10, maxlength: 256 },
      'At least 10 characters. Your other devices will be signed out.'),
    errors, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const { current_password: current, new_password: next } = formValues(form);
    try {
      await busy(submit, () => api.changePassword(current, next));
      form.reset();
      errors.replaceChildren(h('p', { class: 'alert alert-ok', role: 'status' }, 'Your password is changed. Other devices are signed out.'));
    } catch (err) {
      showError(errors, err);
    }
  });
  return h('section', { class: 'card' }, h('h2', null, 'Password'), form);
}

function keysCard() {
  const errors = h('div', { class: 'slot' });
  const list = h('ul', { class: 'key-list' });
  const fresh = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('plus'), 'Create key');
  const form = h('form', { class: 'stack', 'data-testid': 'key-form', novalidate: true },
    field('Key name', { name: 'name', required: true, maxlength: 100, placeholder: 'Calendar sync' }, 'So you can tell your keys apart.'),
    h('fieldset', { class: 'checks' }, h('legend', null, 'What the key may do'),
      SCOPES.map(([scope, label]) => checkbox(label, { name: 'scope', value: scope, checked: scope.startsWith('meetings:') }))),
    submit);
  const card = h('section', { class: 'card card-wide' },
    h('h2', null, 'API keys'),
    h('p', { class: 'muted' }, `Keys let your own programs use ${brandName()}’s API on behalf of this account. Treat them like passwords.`),
    errors, fresh, list, form);

  const load = async () => {
    try {
      const keys = await api.listKeys();
      list.replaceChildren(...(keys.length ? keys.map((k) => keyItem(k, load, errors)) : [h('li', { class: 'muted' }, 'No keys yet.')]));
    } catch (err) {
      if (err.code === 'forbidden') {
        card.replaceChildren(h('h2', null, 'API keys'), h('p', { class: 'muted' }, 'Only owners and admins of the account manage its API keys. Ask one of them if you need a key.'));
        return;
      }
      showError(errors, err);
    }
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const scopes = [...form.querySelectorAll('input[name=scope]:checked')].map((el) => el.value);
    if (!scopes.length) {
      showError(errors, 'Choose at least one thing the key may do.');
      return;
    }
    try {
      const { key, secret } = await busy(submit, () => api.createKey(formValues(form).name, scopes));
      showError(errors, null);
      form.reset();
      fresh.replaceChildren(newKey(key, secret, () => fresh.replaceChildren()));
      fresh.querySelector('input').focus();
      load();
    } catch (err) {
      showError(errors, err);
    }
  });
  load();
  return card;
}

// newKey shows a key's secret, the one time it can be seen.
function newKey(key, secret, dismiss) {
  const value = h('input', { readonly: true, value: secret, class: 'invite-input mono', 'aria-label': `Secret of the key ${key.name}` });
  value.addEventListener('focus', () => value.select());
  return h('div', { class: 'alert alert-ok new-key', 'data-testid': 'new-api-key', role: 'status' },
    h('p', null, h('strong', null, `Key “${key.name}” created. `), 'Copy it now: this is the only time it is shown. Store it somewhere safe.'),
    h('div', { class: 'mi-invite' }, value,
      h('button', { type: 'button', class: 'btn btn-small', onclick: async () => toast(await copyText(secret, value) ? 'Key copied.' : 'Select the key and copy it.') },
        icon('copy'), 'Copy')),
    h('button', { type: 'button', class: 'link-btn', onclick: dismiss }, 'I have stored it'));
}

function keyItem(k, reload, errors) {
  const revoked = !!k.revoked_at;
  const actions = h('span', { class: 'key-actions' });
  const ask = () => actions.replaceChildren(
    h('span', null, 'Revoke this key? Programs using it stop working. '),
    h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: revoke }, 'Revoke'),
    h('button', { type: 'button', class: 'btn btn-small', onclick: idle }, 'Cancel'));
  const idle = () => actions.replaceChildren(!revoked &&
    h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'revoke', 'aria-label': `Revoke key ${k.name}`, onclick: ask }, 'Revoke'));
  async function revoke() {
    try {
      await api.revokeKey(k.id);
      reload();
    } catch (err) {
      showError(errors, err);
    }
  }
  idle();
  return h('li', { class: `key-item${revoked ? ' revoked' : ''}`, dataset: { keyId: k.id } },
    h('div', null,
      h('strong', null, k.name), ' ', h('code', null, `mk_${k.prefix}_…`),
      h('p', { class: 'muted' }, k.scopes.join(', '), ` · created ${day.format(new Date(k.created_at))}`,
        revoked ? ` · revoked ${day.format(new Date(k.revoked_at))}` : '')),
    actions);
}
