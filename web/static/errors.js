// errors.js: every refusal in words: what happened, and what to do about it. Pages show
// these in an element with data-testid="error"; the server's codes are stable
// (api/openapi.yaml, docs/protocol.md), its messages a fallback for codes new to us.

import { h } from './dom.js';
import { policyDetails, policyReason } from './policyerror.js';

const MESSAGES = {
  network: 'We could not reach Meridian. Check your internet connection, then try again.',
  internal: 'Something went wrong on our side. Wait a moment, then try again.',
  invalid_credentials: 'That email address and password do not match an account. Check them and try again, or reset your password.',
  email_taken: 'An account with this email address already exists. Sign in instead, or reset your password if you have forgotten it.',
  weak_password: 'Choose a password of at least 10 characters.',
  invalid_token: 'This password-reset link is invalid, used or expired. Ask for a new link from the sign-in page.',
  unauthenticated: 'You are signed out. Sign in again to continue.',
  csrf_failed: 'Your session needs refreshing. Reload the page, or sign out and in again.',
  forbidden: 'Your account is not allowed to do this. Ask an owner or admin of your account.',
  not_found: 'We could not find that meeting. Check the meeting ID or link, or ask the host for a new invitation.',
  wrong_passcode: 'That passcode does not match this meeting. Check the invitation and type the passcode again.',
  meeting_locked: 'The host has locked this meeting, so nobody new can join. Ask the host to unlock it, then try again.',
  removed: 'The host removed you from this meeting, so you cannot join it again. Contact the host if this was a mistake.',
  sign_in_required: 'This meeting is for signed-in users only. Sign in, then join again.',
  waiting_for_host: 'The meeting has not started yet. You will join automatically as soon as the host starts it.',
  meeting_ended: 'This meeting has ended. Ask the host for a new invitation if you still need to meet.',
  meeting_cancelled: 'The host cancelled this meeting, so it will not take place. Ask the host if you need a new invitation.',
  meeting_live: 'This meeting is in progress, so it cannot be changed or cancelled now. End it first.',
  meeting_full: 'This meeting is full. Try again later, or ask the host to make room.',
  room_full: 'This meeting is full. Try again later, or ask the host to make room.',
  plan_cannot_host: 'Your account’s plan does not include hosting meetings. Ask your account owner to upgrade the plan; you can still join other people’s meetings.',
  account_disabled: 'This account is disabled, so it cannot host meetings. Contact your account owner.',
  rate_limited: 'Too many attempts in a short time. Wait a little, then try again.',
  plan_locked: 'Your plan keeps meetings in your home region. Choosing other regions needs a paid plan; ask your account owner to upgrade.',
  opt_in_required: 'This region is opt-in: read its warning and confirm it before turning it on.',
  home_required: 'Your home region always carries your meetings and cannot be turned off.',
  unknown_region: 'That region is not part of this Meridian service. Reload the page to see the regions there are.',
  no_allowed_capacity: 'None of the data centers allowed to carry this meeting can take you now: they are full, down or draining, and Meridian never moves a meeting anywhere else. Try again in a moment.',
  control_plane_unavailable: 'Meridian cannot check where this meeting may be carried right now, so it lets nobody in until it can. Try again in a moment.',
  invalid_invite: 'This invitation link is invalid, used, withdrawn or expired. Ask the account’s owner or an admin to invite you again.',
  individual_account: 'An individual account is for one person, so it has no members. Create a business account to work with a team.',
  already_member: 'That address is already a member of this account.',
  owner_protected: 'The owner cannot be removed or given another role. The owner can first make another member the owner.',
  member_limit: 'The account has as many members and invitations as it may have. Remove some, or withdraw invitations, first.',
  geoip_unavailable: 'This Meridian server cannot tell which country participants connect from (it has no GeoIP database), so entry by country cannot be turned on. Ask its operator.',
  home_region_elsewhere: 'Your home region is served from its own Meridian address: sign up there, or choose this site’s region as your home.',
};

// Refusals whose server message is already the plain-words reason, with facts only the
// server knows (entry by country names the country the connection comes from).
const SERVER_WORDS = new Set(['entry_country_blocked', 'entry_country_unknown']);

/** describe returns the words for an ApiError (or any error). */
export function describe(err) {
  if (err?.policy) return policyReason(err.policy);
  if (SERVER_WORDS.has(err?.code) && err.message) return err.message;
  if (err?.code === 'rate_limited' && err.retryAfter > 0) {
    return `Too many attempts in a short time. Try again in ${waitWords(err.retryAfter)}.`;
  }
  if (err?.code && MESSAGES[err.code]) return MESSAGES[err.code];
  if (err?.code === 'invalid_input' && err.message) return `${sentence(err.message)} Correct it and try again.`;
  return err?.message ? `${sentence(err.message)} Try again, or reload the page.` : MESSAGES.internal;
}

function waitWords(seconds) {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

function sentence(text) {
  const s = String(text).trim();
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');
}

/**
 * errorBox renders a refusal as an alert. `extra` adds nodes after the message (a link
 * to sign in, for example).
 */
export function errorBox(err, ...extra) {
  const text = typeof err === 'string' ? err : describe(err);
  if (err?.policy) extra = [...policyDetails(err.policy), ...extra];
  return h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'error', dataset: err?.code ? { code: err.code } : null },
    h('p', null, text), extra);
}

/** showError puts a refusal in slot (replacing any earlier one), or empties it for null. */
export function showError(slot, err, ...extra) {
  if (err) slot.replaceChildren(errorBox(err, ...extra));
  else slot.replaceChildren();
}
