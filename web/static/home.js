// home.js: the front page. Signed out, it says what Meridian is and shows the two ways
// in: join a meeting (no account needed) or sign up to host. Signed in, it is the dashboard.

import { currentUser } from './api.js';
import { brandName } from './brand.js';
import { dashboardPage } from './dashboard.js';
import { h, icon } from './dom.js';
import { joinBox, page } from './layout.js';

export async function homePage(view, params) {
  const me = await currentUser();
  if (me) return dashboardPage(view, params);
  document.title = `${brandName()}: video meetings in your browser`;
  page(view, null,
    h('section', { class: 'hero' },
      h('h1', null, 'Meet face to face, right from your browser'),
      h('p', { class: 'lead' }, 'Video meetings with nothing to install. Join with the meeting ID or link you were sent, or create an account to host your own.')),
    h('div', { class: 'cards two' },
      h('section', { class: 'card' },
        h('h2', null, icon('people'), 'Join a meeting'),
        h('p', { class: 'muted' }, 'No account needed. Type the meeting ID, or paste the invite link.'),
        joinBox()),
      h('section', { class: 'card' },
        h('h2', null, icon('camera'), 'Host a meeting'),
        h('p', { class: 'muted' }, 'Start a meeting in one click, or schedule one and send the invite.'),
        h('div', { class: 'actions' },
          h('a', { href: '/signup', class: 'btn btn-primary' }, 'Sign up free'),
          h('a', { href: '/signin', class: 'btn' }, 'Sign in')))),
    h('ul', { class: 'features' },
      h('li', null, h('strong', null, 'Nothing to install. '), 'Meetings run in Chrome, Edge and Firefox, on a computer or a phone.'),
      h('li', null, h('strong', null, 'Hosts stay in control. '), 'A waiting room, muting, locking and removing, all a click away.'),
      h('li', null, h('strong', null, 'Your data knows where it lives. '), 'Every meeting is kept in its account’s home region.')));
}
