// ended.js: the screen after a meeting, saying why it ended for this person.

import { currentUser } from './api.js';
import { titled } from './brand.js';
import { h } from './dom.js';
import { page } from './layout.js';

// Why a meeting ended, by the reason of the node's "closed" message (docs/protocol.md
// and the session-2 contract), a refusal code met while reconnecting, or our own words.
// rejoin: whether joining again can work.
const REASONS = {
  left: { title: 'You left the meeting', text: 'Thanks for joining. You can rejoin while the meeting goes on.', rejoin: true },
  ended_by_you: { title: 'You ended the meeting for everyone', text: 'Everyone has been disconnected.' },
  removed: { title: 'You were removed from the meeting', text: 'The host removed you, so you cannot rejoin this meeting. Contact the host if this was a mistake.' },
  denied: { title: 'The host did not let you in', text: 'Your request to join was declined. Contact the host if you think this is a mistake.' },
  ended: { title: 'The host ended the meeting', text: 'The meeting is over for everyone. Ask the host for a new invitation to meet again.' },
  cancelled: { title: 'The host cancelled the meeting', text: 'The meeting will not take place. Ask the host if you need a new invitation.' },
  time_limit: { title: 'The meeting reached its time limit', text: 'Meetings on the host’s plan have a time limit. The host can start a new meeting to continue.' },
  'room closed': { title: 'The meeting was closed', text: 'The meeting room closed. If the meeting is still going on, rejoin.', rejoin: true },
  full: { title: 'The meeting is full', text: 'The meeting has as many participants as the host’s plan allows. Try again when someone leaves.', rejoin: true },
  locked: { title: 'The meeting is locked', text: 'You lost your connection and the host has since locked the meeting. Ask the host to unlock it, then rejoin.', rejoin: true },
  expired: { title: 'Your invitation expired', text: 'The pass to this meeting ran out before you got in. Join again to get a fresh one.', rejoin: true },
  no_allowed_capacity: { title: 'The meeting could not go on', text: 'Your connection to the meeting was lost, and none of the data centers allowed to carry it could take you again: they are full, down or draining, and Meridian never moves a meeting anywhere else. Try to rejoin in a moment.', rejoin: true },
  control_plane_unavailable: { title: 'The meeting could not go on', text: 'Your connection to the meeting was lost, and Meridian could not check where the meeting may be carried, so it did not let you back in. Try to rejoin in a moment.', rejoin: true },
  connection: { title: 'You lost your connection', text: 'We could not keep you connected to the meeting. Check your network, then rejoin.', rejoin: true },
};

// Reasons of other words that mean the same.
const ALIASES = {
  meeting_ended: 'ended',
  meeting_cancelled: 'cancelled',
  meeting_locked: 'locked',
  token_expired: 'expired',
  token_invalid: 'expired',
  'publisher connection failed': 'connection',
  'subscriber connection failed': 'connection',
  slow_consumer: 'connection',
  rate_limited: 'connection',
};

/**
 * endedPage shows why a meeting ended. params: reason, rejoinPath (the join page to come
 * back through).
 */
export async function endedPage(view, { reason, rejoinPath }) {
  const key = REASONS[reason] ? reason : ALIASES[reason] ?? reason;
  const { title, text, rejoin } = REASONS[key] ?? {
    title: 'You are no longer in the meeting', text: `The meeting ended for you (${reason}). Rejoin to try again.`, rejoin: true,
  };
  const me = await currentUser().catch(() => null);
  document.title = titled(title);
  page(view, me, h('section', { class: 'card narrow center ended', 'data-testid': 'ended', dataset: { reason: key } },
    h('h1', null, title),
    h('p', { class: 'lead' }, text),
    h('div', { class: 'actions center' },
      rejoin && rejoinPath && h('a', { href: rejoinPath, class: 'btn btn-primary' }, 'Rejoin'),
      h('a', { href: me ? '/dashboard' : '/', class: 'btn' }, me ? 'Back to your meetings' : 'Back to the home page'))));
}
