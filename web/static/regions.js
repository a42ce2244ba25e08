// regions.js: the account's data-center regions on the settings page: the home region
// (locked on: the account's data lives there), and a toggle for each other region that
// may carry the account's meetings. An opt-in region shows its warning and needs a
// confirmation before it is turned on. A region run by the account's partner (listed only
// for the partner's customers) is marked as the partner's, with a line saying who runs it.
// Each change is saved at once; meetings already running keep the regions they started
// with.

import { api } from './api.js';
import { h, toast } from './dom.js';
import { showError } from './errors.js';

export function regionsCard() {
  const errors = h('div', { class: 'slot' });
  const intro = h('p', { class: 'muted' });
  const list = h('ul', { class: 'region-list' });
  const card = h('section', { class: 'card card-wide', 'data-testid': 'regions-card', hidden: true },
    h('h2', null, 'Data-center regions'), intro, errors, list);

  let saving = false;
  const render = (s) => {
    // One region (a single-node deployment) leaves nothing to choose.
    card.hidden = s.regions.length < 2;
    intro.replaceChildren(
      'Your account’s data is stored in its home region. These are the data centers that may carry your meetings; a meeting keeps the regions it started with.',
      !s.region_selection ? ' Your plan keeps meetings in your home region.' : '',
      s.region_selection && !s.can_change ? ' Only owners and admins of the account can change them.' : '');
    list.replaceChildren(...s.regions.map((r) => regionItem(r, s, save)));
  };

  async function save(allowed, acknowledge) {
    if (saving) return;
    saving = true;
    for (const input of list.querySelectorAll('input')) input.disabled = true;
    try {
      const body = { allowed };
      if (acknowledge.length) body.acknowledge_opt_in = acknowledge;
      render(await api.setAccountRegions(body));
      showError(errors, null);
      toast('Regions saved.');
    } catch (err) {
      showError(errors, err);
      load();
    } finally {
      saving = false;
    }
  }

  async function load() {
    try {
      render(await api.accountRegions());
    } catch (err) {
      showError(errors, err);
    }
  }
  load();
  return card;
}

// regionItem is one region with its toggle and its sentence of explanation.
function regionItem(r, s, save) {
  const allowedWith = (on) => {
    const ids = s.allowed.filter((id) => id !== r.id);
    return on ? [...ids, r.id] : ids;
  };
  const input = h('input', {
    type: 'checkbox', checked: r.allowed, disabled: r.locked || !s.can_change,
    'aria-describedby': `region-${r.id}-why`, 'data-testid': `region-toggle-${r.id}`,
  });
  const confirm = h('div', { class: 'slot' });
  input.addEventListener('change', () => {
    if (input.checked && r.needs_opt_in && !r.opted_in) {
      // Not yet: the warning first, and an explicit yes.
      input.checked = false;
      confirm.replaceChildren(optInWarning(r, () => save(allowedWith(true), [r.id]), () => {
        confirm.replaceChildren();
        input.focus();
      }));
      confirm.querySelector('button').focus();
      return;
    }
    save(allowedWith(input.checked), []);
  });
  const tags = [
    r.home && h('span', { class: 'badge badge-live' }, 'Home'),
    r.needs_opt_in && h('span', { class: 'badge badge-scheduled' }, 'Opt-in'),
    r.partner && h('span', { class: 'badge badge-scheduled' }, 'Partner'),
  ];
  // The explanation of a partner's region starts by saying who runs it.
  return h('li', { class: 'region-item', dataset: { region: r.id, partner: r.partner || '' } },
    h('label', { class: 'check' }, input,
      h('span', null, h('strong', null, r.name), ` · ${r.jurisdiction} `, tags)),
    h('p', { id: `region-${r.id}-why`, class: 'muted', 'data-testid': `region-why-${r.id}` }, r.explanation),
    confirm);
}

function optInWarning(r, yes, no) {
  return h('div', { class: 'alert alert-warn', role: 'alert', 'data-testid': 'opt-in-warning' },
    h('p', null, h('strong', null, `Turn on ${r.name}? `), r.warning),
    h('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-testid': 'opt-in-confirm', onclick: yes }, 'Turn it on'),
    h('button', { type: 'button', class: 'btn btn-small', onclick: no }, 'Cancel'));
}

/**
 * homeRegionNote tells a person signing up where their account's data will be kept: the
 * region of this site, which is the home region of every account made here. It stays
 * empty on a one-region deployment, where there is nothing to tell apart.
 */
export function homeRegionNote() {
  const note = h('p', { class: 'hint', 'data-testid': 'home-region-note', hidden: true });
  api.regions().then(({ regions, node_region: here }) => {
    const r = regions.find((x) => x.id === here);
    if (regions.length < 2 || !r) return;
    note.replaceChildren('Your account’s data will be kept in ', h('strong', null, r.name), ', this site’s region. For another home region, sign up on that region’s site.');
    note.hidden = false;
  }).catch(() => {}); // only a note: the sign-up works without it
  return note;
}
