// auth.js: sign up, sign in (with "forgot password"), and setting a new password from a
// reset link.

import { api, currentUser } from './api.js';
import { brandName } from './brand.js';
import { h } from './dom.js';
import { showError } from './errors.js';
import { busy, field, formValues, page, validate } from './layout.js';
import { homeRegionNote } from './regions.js';
import { navigate } from './router.js';

// afterSignIn is where to go once signed in: the page that sent the user here (?next=,
// same-origin paths only, so a crafted link cannot send them elsewhere) or the dashboard.
function afterSignIn(query) {
  const next = query.get('next') || '';
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/dashboard';
}

function withNext(path, query) {
  return query.get('next') ? `${path}?next=${encodeURIComponent(query.get('next'))}` : path;
}

export async function signInPage(view, { query }) {
  if (await currentUser()) return navigate(afterSignIn(query), { replace: true });
  const errors = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = h('form', { 'data-testid': 'signin-form', class: 'stack', novalidate: true },
    field('Email address', { name: 'email', type: 'email', autocomplete: 'email', required: true }),
    field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    errors, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const { email, password } = formValues(form);
    try {
      await busy(submit, () => api.signIn(email, password));
      navigate(afterSignIn(query));
    } catch (err) {
      showError(errors, err);
    }
  });
  const forgot = forgotPassword();
  page(view, null, h('section', { class: 'card auth-card' },
    h('h1', null, 'Sign in'),
    h('p', { class: 'lead' }, 'Welcome back. Sign in to start and schedule meetings.'),
    form, forgot,
    h('p', { class: 'muted center' }, `New to ${brandName()}? `, h('a', { href: withNext('/signup', query) }, 'Create an account')),
    h('p', { class: 'muted center' }, 'Only joining a meeting? ', h('a', { href: '/join' }, 'You do not need an account'))));
}

// forgotPassword is the "Forgot your password?" disclosure of the sign-in page.
function forgotPassword() {
  const status = h('div', { class: 'slot', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn' }, 'Send reset link');
  const form = h('form', { class: 'stack', hidden: true, novalidate: true },
    h('p', null, 'Enter the email address of your account and we will send you a link to set a new password.'),
    field('Email address', { name: 'email', type: 'email', autocomplete: 'email', required: true }), status, submit);
  const toggle = h('button', { type: 'button', class: 'link-btn', 'aria-expanded': 'false' }, 'Forgot your password?');
  toggle.addEventListener('click', () => {
    form.hidden = !form.hidden;
    toggle.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) form.elements.email.focus();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, status)) return;
    try {
      await busy(submit, () => api.requestReset(formValues(form).email));
      status.replaceChildren(h('p', { class: 'alert alert-ok' },
        'If that address belongs to an account, a reset link is on its way. Check your inbox (and spam folder); the link works for one hour.'));
    } catch (err) {
      showError(status, err);
    }
  });
  return h('div', { class: 'forgot' }, toggle, form);
}

export async function signUpPage(view, { query }) {
  if (await currentUser()) return navigate(afterSignIn(query), { replace: true });
  const errors = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Create account');
  const accountName = field('Account name', { name: 'account_name', autocomplete: 'organization', maxlength: 100 },
    'Your company or team. Optional when it is just you.');
  const type = field('Who is this account for?', {
    name: 'account_type', value: 'individual',
    options: [['individual', 'Just me'], ['business', 'A business or team']],
  });
  const form = h('form', { 'data-testid': 'signup-form', class: 'stack', novalidate: true },
    field('Your name', { name: 'display_name', autocomplete: 'name', required: true, maxlength: 100 }, 'Shown to others in meetings.'),
    field('Email address', { name: 'email', type: 'email', autocomplete: 'email', required: true, maxlength: 254 }),
    field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10, maxlength: 256 },
      'At least 10 characters.'),
    type, accountName,
    field('Country of your address', { name: 'country', autocomplete: 'country', maxlength: 2, pattern: '[A-Za-z]{2}' },
      'Its two-letter code, such as US, DE or CN: what we may offer you depends on the country.'),
    field('Billing country', { name: 'billing_country', maxlength: 2, pattern: '[A-Za-z]{2}' },
      'Only if you are billed to an address in another country.'),
    homeRegionNote(), errors, submit);
  // A business must name its account; a person's account is named after them.
  form.elements.account_type.addEventListener('change', () => {
    form.elements.account_name.required = form.elements.account_type.value === 'business';
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    try {
      await busy(submit, () => api.signUp(formValues(form)));
      navigate(afterSignIn(query));
    } catch (err) {
      showError(errors, err);
    }
  });
  page(view, null, h('section', { class: 'card auth-card' },
    h('h1', null, 'Create your account'),
    h('p', { class: 'lead' }, 'Host meetings from your browser. Free to start; no download.'),
    form,
    h('p', { class: 'muted center' }, 'Already have an account? ', h('a', { href: withNext('/signin', query) }, 'Sign in'))));
}

export async function resetPasswordPage(view, { query }) {
  const token = query.get('token');
  if (!token) {
    page(view, null, h('section', { class: 'card auth-card' },
      h('h1', null, 'Set a new password'),
      h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'error' },
        h('p', null, 'This link is missing its reset token. Open the link from the email again, or ask for a new one on the sign-in page.')),
      h('a', { href: '/signin', class: 'btn' }, 'Go to sign in')));
    return;
  }
  const errors = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Set new password');
  const form = h('form', { class: 'stack', 'data-testid': 'reset-form', novalidate: true },
    field('New password', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10, maxlength: 256 },
      'At least 10 characters.'),
    field('Repeat the new password', { name: 'repeat', type: 'password', autocomplete: 'new-password', required: true }),
    errors, submit);
  const card = h('section', { class: 'card auth-card' },
    h('h1', null, 'Set a new password'),
    h('p', { class: 'lead' }, 'Choose a new password for your account. Every device signed in with the old one is signed out.'),
    form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const { new_password: password, repeat } = formValues(form);
    if (password !== repeat) {
      showError(errors, 'The two passwords differ. Type the same new password in both fields.');
      return;
    }
    try {
      await busy(submit, () => api.confirmReset(token, password));
      card.replaceChildren(h('h1', null, 'Your password is changed'),
        h('p', { class: 'alert alert-ok', role: 'status' }, 'Sign in with your new password.'),
        h('a', { href: '/signin', class: 'btn btn-primary' }, 'Sign in'));
    } catch (err) {
      showError(errors, err);
    }
  });
  page(view, await currentUser().catch(() => null), card);
}
