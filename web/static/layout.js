// layout.js: what the pages around a meeting share: the site header, form fields, busy
// buttons, the "join a meeting" box, and the not-found page.

import { brandLogo, brandName } from './brand.js';
import { h } from './dom.js';
import { navigate } from './router.js';

let fieldCount = 0;

/** brand is the logo and name, linking home. */
export function brand() {
  // A partner's logo that does not load gives way to the product's own.
  const logo = h('img', { src: brandLogo(), alt: '', width: 28, height: 28, 'data-testid': 'brand-logo',
    onerror: () => { if (logo.getAttribute('src') !== FALLBACK_LOGO) logo.src = FALLBACK_LOGO; } });
  return h('a', { href: '/', class: 'brand', 'data-testid': 'brand' }, logo, h('span', { 'data-testid': 'brand-name' }, brandName()));
}

const FALLBACK_LOGO = '/static/favicon.svg';

function navLink(href, label) {
  return h('a', { href, class: 'nav-link', 'aria-current': location.pathname === href ? 'page' : null }, label);
}

/** header is the site header: signed in, links to meetings and settings; else to sign in and up. */
function header(me) {
  const links = me
    ? [navLink('/dashboard', 'Meetings'), navLink('/settings', 'Settings'), me.operator && navLink('/console', 'Console')]
    : [navLink('/join', 'Join a meeting'), navLink('/signin', 'Sign in'), h('a', { href: '/signup', class: 'btn btn-primary btn-small' }, 'Sign up')];
  return h('header', { class: 'site-header' }, brand(), h('nav', { class: 'site-nav', 'aria-label': 'Main' }, links));
}

/** page draws a page: the header, then content in <main>. */
export function page(view, me, ...content) {
  view.root.replaceChildren(header(me), h('main', { id: 'main', class: 'page' }, content));
}

/**
 * field is a labelled input. input: attributes of the <input> (or of a <select> when it
 * has options: [[value, label]...]). hint: help text tied to the input.
 */
export function field(label, input, hint) {
  const id = `f${++fieldCount}`;
  const hintId = hint ? `${id}-hint` : null;
  const { options, ...attrs } = input;
  const control = options
    ? h('select', { id, 'aria-describedby': hintId, ...attrs, value: null },
      options.map(([value, text]) => h('option', { value, selected: value === attrs.value }, text)))
    : h('input', { id, type: 'text', 'aria-describedby': hintId, ...attrs });
  return h('div', { class: 'field' },
    h('label', { for: id }, label), control, hint && h('p', { id: hintId, class: 'hint' }, hint));
}

/** checkbox is a labelled checkbox. */
export function checkbox(label, attrs) {
  return h('label', { class: 'check' }, h('input', { type: 'checkbox', ...attrs }), h('span', null, label));
}

/**
 * busy runs task with button disabled and marked busy, so a double click cannot send a
 * form twice. It resolves to task's result.
 */
export async function busy(button, task) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await task();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/**
 * validate checks a form (which has novalidate, so that every problem shows in the same
 * place as the server's refusals) and shows the first problem in slot, focusing its field.
 */
export function validate(form, slot) {
  const bad = [...form.elements].find((el) => el.willValidate && !el.checkValidity());
  if (!bad) return true;
  const label = bad.labels?.[0]?.textContent ?? bad.name;
  slot.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'error' },
    h('p', null, `${label}: ${bad.validationMessage}`)));
  bad.focus();
  return false;
}

/** formValues returns a form's named fields as an object of trimmed strings (passwords untrimmed). */
export function formValues(form) {
  const out = {};
  for (const [name, value] of new FormData(form)) {
    out[name] = form.elements[name]?.type === 'password' ? value : String(value).trim();
  }
  return out;
}

/**
 * joinTarget turns what someone typed or pasted into the join box (a meeting id, or a
 * whole invite link) into the page that joins it.
 */
function joinTarget(text) {
  const link = /\/j\/([^/?#\s]+)/.exec(text);
  if (link) return `/j/${link[1]}`;
  return `/join?id=${encodeURIComponent(text.trim())}`;
}

/** joinBox is the small "meeting ID or link" form of the home page and the dashboard. */
export function joinBox() {
  const errors = h('div', { class: 'slot' });
  const form = h('form', { class: 'inline-form', 'data-testid': 'join-form', novalidate: true },
    field('Meeting ID or invite link', {
      name: 'meeting_id', required: true, autocomplete: 'off', placeholder: '123 4567 8901', inputmode: 'text',
    }),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Join'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (validate(form, errors)) navigate(joinTarget(form.elements.meeting_id.value));
  });
  return h('div', null, form, errors);
}

export function notFoundPage(view) {
  page(view, null, h('section', { class: 'card narrow center' },
    h('h1', null, 'This page does not exist'),
    h('p', null, 'The link may be mistyped or out of date. Check it, or start from the home page.'),
    h('a', { href: '/', class: 'btn btn-primary' }, 'Go to the home page')));
}
