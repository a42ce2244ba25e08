// entry.js: the account's entry by country on the settings page: anyone (off), only
// participants from listed countries (an allow-list), or everyone but those (a
// block-list), by the country the server's GeoIP database gives their address. Without a
// GeoIP database on the server it cannot be turned on, and the card says so.

import { api } from './api.js';
import { h, toast } from './dom.js';
import { showError } from './errors.js';
import { busy, field } from './layout.js';

const MODES = [
  ['off', 'Anyone, from any country'],
  ['allow_list', 'Only participants from these countries'],
  ['block_list', 'Everyone except participants from these countries'],
];

const names = (() => {
  try {
    return new Intl.DisplayNames(undefined, { type: 'region' });
  } catch {
    return null;
  }
})();

/** countryName names an ISO 3166-1 code for people, falling back to the code. */
function countryName(code) {
  try {
    return names?.of(code) || code;
  } catch {
    return code;
  }
}

/** countryCodes reads what was typed: "de, fr JP" is DE, FR, JP. */
function countryCodes(text) {
  return text.split(/[\s,;]+/).map((c) => c.trim().toUpperCase()).filter(Boolean);
}

export function entryCard() {
  const errors = h('div', { class: 'slot' });
  const note = h('div', { class: 'slot' });
  const summary = h('p', { class: 'muted', 'data-testid': 'entry-summary', 'aria-live': 'polite' });
  const mode = field('Who may join', { name: 'mode', options: MODES, 'data-testid': 'entry-mode' });
  const countries = field('Countries', {
    name: 'countries', autocomplete: 'off', placeholder: 'DE, FR, JP', 'data-testid': 'entry-countries',
  }, 'Two-letter country codes, separated by commas.');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'entry-save' }, 'Save');
  const form = h('form', { class: 'stack', 'data-testid': 'entry-form', novalidate: true }, mode, countries, errors, submit);
  const modeInput = form.elements.mode;
  const countriesInput = form.elements.countries;
  const card = h('section', { class: 'card card-wide', 'data-testid': 'entry-card' },
    h('h2', null, 'Entry by country'),
    h('p', { class: 'muted' },
      'Choose from which countries people may join your meetings, the host included: Meridian decides by the country of the internet address each participant connects from, which a VPN or a network abroad can place elsewhere.'),
    note, summary, form);

  const showCountries = () => {
    countries.hidden = modeInput.value === 'off';
  };
  modeInput.addEventListener('change', showCountries);

  const render = (s) => {
    modeInput.value = s.mode;
    countriesInput.value = s.countries.join(', ');
    showCountries();
    const listed = s.countries.map(countryName).join(', ');
    summary.textContent = s.mode === 'allow_list'
      ? `Only participants connecting from ${listed} may join; anyone whose country cannot be told is refused.`
      : s.mode === 'block_list'
        ? `Participants connecting from ${listed} cannot join; everyone else can.`
        : 'Anyone may join, from any country.';
    for (const el of form.elements) el.disabled = !s.can_change;
    // Without GeoIP only "off" can be saved: the other choices could not be enforced.
    for (const option of modeInput.options) option.disabled = !s.geoip && option.value !== 'off';
    note.replaceChildren(
      !s.geoip && h('p', { class: 'alert alert-warn', role: 'status', 'data-testid': 'entry-no-geoip' },
        'This Meridian server has no GeoIP database, so it cannot tell where participants connect from, and entry by country cannot be turned on. Ask its operator.'),
      !s.can_change && h('p', { class: 'muted' }, 'Only owners and admins of the account can change it.'));
    submit.hidden = !s.can_change;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { mode: modeInput.value, countries: countryCodes(countriesInput.value) };
    try {
      render(await busy(submit, () => api.setAccountEntry(body)));
      showError(errors, null);
      toast('Entry by country saved.');
    } catch (err) {
      showError(errors, err);
    }
  });

  api.accountEntry().then(render).catch((err) => showError(errors, err));
  return card;
}
