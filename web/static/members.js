// members.js: a business account's people, in the settings: who is in it and with what
// role, the open invitations, inviting by email, changing roles, removing, and handing the
// account to another member; and the page an invitation's mailed link opens, where the
// invitee chooses a name and password and joins. The rules are the server's
// (docs/accounts.md); this only offers what the signed-in user's role may do.

import { api, currentUser } from './api.js';
import { h, icon, toast } from './dom.js';
import { errorBox, showError } from './errors.js';
import { busy, field, formValues, page, validate } from './layout.js';
import { navigate } from './router.js';

const ROLE_NAMES = { owner: 'Owner', admin: 'Admin', member: 'Member' };
const day = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

// Words for refusals that mean something else here than on the pages errors.js has in mind.
const MEMBER_ERRORS = {
  email_taken: 'This address already has a Meridian account, and one address belongs to one account. Ask them for another address, or to close that account first.',
  not_found: 'That member or invitation is no longer there. Reload the page to see the account as it is now.',
  invalid_credentials: 'That is not your password. Type it again to confirm.',
};

function memberError(slot, err) {
  if (err?.code && MEMBER_ERRORS[err.code]) {
    slot.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'error', dataset: { code: err.code } },
      h('p', null, MEMBER_ERRORS[err.code])));
  } else {
    showError(slot, err);
  }
}

/** membersCard is the settings' Members section for me, the signed-in {user, account}. */
export function membersCard(me) {
  const { user, account } = me;
  if (account.type !== 'business') {
    return h('section', { class: 'card', 'data-testid': 'members-card' },
      h('h2', null, 'Members'),
      h('p', { class: 'muted' }, 'An individual account is for one person. To work with a team under one plan, create a business account.'));
  }
  const manage = user.role === 'owner' || user.role === 'admin';
  const errors = h('div', { class: 'slot' });
  const status = h('div', { class: 'slot', role: 'status' });
  const list = h('ul', { class: 'key-list', 'data-testid': 'member-list' });
  const invites = h('ul', { class: 'key-list', 'data-testid': 'invite-list' });
  const card = h('section', { class: 'card card-wide', 'data-testid': 'members-card' },
    h('h2', null, 'Members'),
    h('p', { class: 'muted' }, `Everyone here uses ${account.name}’s plan and regions. `,
      manage ? 'Owners and admins invite, change and remove members; only the owner hands the account on.' : 'Owners and admins manage the members.'),
    errors, status, list,
    manage && h('h3', null, 'Pending invitations'), manage && invites,
    manage && inviteForm(errors, status, () => load()));

  async function load() {
    try {
      const [members, open] = await Promise.all([api.listMembers(), manage ? api.listInvites() : []]);
      list.replaceChildren(...members.map((m) => memberItem(m, me, errors, status, load)));
      if (manage) {
        invites.replaceChildren(...(open.length ? open.map((i) => inviteItem(i, errors, load)) : [h('li', { class: 'muted' }, 'No invitations waiting.')]));
      }
    } catch (err) {
      memberError(errors, err);
    }
  }
  load();
  return card;
}

function inviteForm(errors, status, reload) {
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'invite-submit' }, icon('send'), 'Send invitation');
  const form = h('form', { class: 'inline-form', 'data-testid': 'invite-form', novalidate: true },
    field('Email address', { name: 'email', type: 'email', required: true, maxlength: 254, autocomplete: 'off' }),
    field('Role', { name: 'role', value: 'member', options: [['member', 'Member'], ['admin', 'Admin']] }),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const { email, role } = formValues(form);
    try {
      await busy(submit, () => api.invite(email, role));
      showError(errors, null);
      form.reset();
      status.replaceChildren(h('p', { class: 'alert alert-ok' }, `Invitation sent to ${email}. The link works for 7 days.`));
      reload();
    } catch (err) {
      memberError(errors, err);
    }
  });
  return form;
}

function memberItem(m, me, errors, status, reload) {
  const self = m.id === me.user.id;
  const manage = (me.user.role === 'owner' || me.user.role === 'admin') && m.role !== 'owner';
  const actions = h('span', { class: 'key-actions' });
  const run = async (task, done) => {
    try {
      await task();
      showError(errors, null);
      if (done) status.replaceChildren(h('p', { class: 'alert alert-ok' }, done));
      reload();
    } catch (err) {
      memberError(errors, err);
      reload();
    }
  };
  const idle = () => {
    const role = manage && h('select', { 'aria-label': `Role of ${m.display_name}`, 'data-action': 'role', class: 'role-select' },
      ['member', 'admin'].map((r) => h('option', { value: r, selected: r === m.role }, ROLE_NAMES[r])));
    if (role) role.addEventListener('change', () => run(() => api.setMemberRole(m.id, role.value), `${m.display_name} is now ${role.value === 'admin' ? 'an admin' : 'a member'}.`));
    actions.replaceChildren(
      role || h('span', { class: 'role', 'data-testid': 'member-role' }, ROLE_NAMES[m.role]),
      manage && !self && h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'remove', onclick: askRemove }, 'Remove'),
      me.user.role === 'owner' && !self && h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'make-owner', onclick: askTransfer }, 'Make owner'));
  };
  const askRemove = () => actions.replaceChildren(
    h('span', null, `Remove ${m.display_name}? They are signed out and their API keys stop working. `),
    h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-action': 'remove-confirm',
      onclick: () => run(() => api.removeMember(m.id), `${m.display_name} is no longer a member.`) }, 'Remove'),
    h('button', { type: 'button', class: 'btn btn-small', onclick: idle }, 'Cancel'));
  const askTransfer = () => {
    const submit = h('button', { type: 'submit', class: 'btn btn-small btn-danger' }, 'Make owner');
    const form = h('form', { class: 'inline-form', 'data-testid': 'transfer-form', novalidate: true },
      h('input', { type: 'email', name: 'username', autocomplete: 'username', value: me.user.email, readonly: true, hidden: true }),
      field('Your password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true },
        `${m.display_name} becomes the owner; you become an admin.`),
      submit, h('button', { type: 'button', class: 'btn btn-small', onclick: idle }, 'Cancel'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!validate(form, errors)) return;
      try {
        await busy(submit, () => api.transferOwnership(m.id, formValues(form).password));
        toast(`${m.display_name} is now the owner.`);
        navigate('/settings', { replace: true }); // your own role changed
      } catch (err) {
        memberError(errors, err);
      }
    });
    actions.replaceChildren(form);
    form.elements.password.focus();
  };
  idle();
  return h('li', { class: 'key-item', 'data-testid': 'member-item', dataset: { memberId: m.id, role: m.role } },
    h('div', null,
      h('strong', null, m.display_name), self ? ' (you)' : '',
      h('p', { class: 'muted' }, m.email, ` · ${ROLE_NAMES[m.role]} · since ${day.format(new Date(m.created_at))}`)),
    actions);
}

function inviteItem(i, errors, reload) {
  const expired = new Date(i.expires_at) <= new Date();
  const withdraw = async () => {
    try {
      await api.revokeInvite(i.id);
      reload();
    } catch (err) {
      memberError(errors, err);
    }
  };
  return h('li', { class: `key-item${expired ? ' revoked' : ''}`, 'data-testid': 'invite-item', dataset: { inviteId: i.id } },
    h('div', null,
      h('strong', null, i.email),
      h('p', { class: 'muted' }, ROLE_NAMES[i.role], expired ? ' · expired: invite again to send a new link' : ` · link works until ${day.format(new Date(i.expires_at))}`)),
    h('span', { class: 'key-actions' },
      h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'revoke-invite', 'aria-label': `Withdraw the invitation of ${i.email}`, onclick: withdraw }, 'Withdraw')));
}

/** acceptInvitePage is where an invitation's link leads: /accept-invite?token=... */
export async function acceptInvitePage(view, { query }) {
  document.title = 'Join an account · Meridian';
  const token = query.get('token');
  const me = await currentUser().catch(() => null);
  const fail = (err) => page(view, me, h('section', { class: 'card auth-card' },
    h('h1', null, 'Join an account'),
    errorBox(err || 'This link is missing its invitation token. Open the link from the email again.'),
    h('p', { class: 'muted' }, 'Ask the account’s owner or an admin to invite you again.'),
    h('a', { href: '/signin', class: 'btn' }, 'Go to sign in')));
  if (!token) return fail(null);
  let invite;
  try {
    invite = await api.lookupInvite(token);
  } catch (err) {
    return fail(err);
  }
  if (!view.active()) return;
  const role = invite.role === 'admin' ? 'an admin' : 'a member';
  const errors = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, `Join ${invite.account_name}`);
  const form = h('form', { class: 'stack', 'data-testid': 'accept-form', novalidate: true },
    field('Email address', { name: 'email', type: 'email', autocomplete: 'username', value: invite.email, readonly: true },
      'You sign in with the address the invitation was sent to.'),
    field('Your name', { name: 'display_name', autocomplete: 'name', required: true, maxlength: 100 }, 'Shown to others in meetings.'),
    field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10, maxlength: 256 },
      'At least 10 characters.'),
    errors, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const { display_name: name, password } = formValues(form);
    try {
      await busy(submit, () => api.acceptInvite(token, name, password));
      navigate('/dashboard');
    } catch (err) {
      showError(errors, err);
    }
  });
  page(view, me, h('section', { class: 'card auth-card' },
    h('h1', null, `Join ${invite.account_name}`),
    h('p', { class: 'lead', 'data-testid': 'invite-summary' },
      `${invite.invited_by || 'An admin'} invited you to ${invite.account_name} on Meridian as ${role}. `,
      `You will host meetings on the account’s plan. The link works until ${day.format(new Date(invite.expires_at))}.`),
    me && h('p', { class: 'alert', role: 'note' }, `You are signed in as ${me.user.email}; joining signs you in as ${invite.email} instead.`),
    form));
}
