// dashboard.js: a signed-in person's meetings: start one now, join one, schedule one,
// and the list with each meeting's invite link and a start button.

import { api, currentUser } from './api.js';
import { copyText, h, icon, toast } from './dom.js';
import { showError } from './errors.js';
import { busy, checkbox, field, formValues, joinBox, page, validate } from './layout.js';
import { loadPrefs, openMedia, stopAll } from './media.js';
import { meetingView } from './meeting.js';
import { mount, navigate } from './router.js';

const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const dateTime = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: 'numeric', minute: '2-digit' });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });

const RECURRENCES = [
  ['', 'Does not repeat'], ['daily', 'Every day'], ['weekdays', 'Every weekday'],
  ['weekly', 'Every week'], ['biweekly', 'Every two weeks'], ['monthly', 'Every month'],
];
const DURATIONS = [['15', '15 minutes'], ['30', '30 minutes'], ['45', '45 minutes'], ['60', '1 hour'], ['90', '1½ hours'], ['120', '2 hours']];

export async function dashboardPage(view) {
  const me = await currentUser();
  if (!me) return navigate('/signin?next=/dashboard', { replace: true });
  document.title = 'Your meetings · Meridian';
  const errors = h('div', { class: 'slot' });
  const list = h('ul', { class: 'meeting-list' });
  const start = (meeting, button) => startAsHost(view, meeting.id, button, errors);

  const instant = h('button', { type: 'button', class: 'btn btn-primary btn-large', 'data-testid': 'instant-meeting' },
    icon('camera'), 'Start a meeting now');
  instant.addEventListener('click', async () => {
    showError(errors, null);
    try {
      const meeting = await busy(instant, () => api.scheduleMeeting({ time_zone: timeZone }));
      await start(meeting, instant);
    } catch (err) {
      showError(errors, err);
    }
  });

  page(view, me,
    h('div', { class: 'page-head' },
      h('h1', null, 'Your meetings'),
      h('p', { class: 'lead' }, `Hello, ${me.user.display_name}. Start a meeting, join one, or plan the next.`)),
    errors,
    h('div', { class: 'cards two' },
      h('section', { class: 'card' },
        h('h2', null, 'New meeting'),
        h('p', { class: 'muted' }, 'Opens a meeting and takes you in; copy its link from the meeting to invite people.'),
        instant),
      h('section', { class: 'card' },
        h('h2', null, 'Join a meeting'),
        joinBox())),
    h('div', { class: 'cards schedule-and-list' },
      scheduleCard((meeting) => {
        list.querySelector('.empty')?.remove();
        const item = meetingItem(meeting, start);
        list.prepend(item);
        item.querySelector('[data-testid=copy-invite]').focus();
      }),
      h('section', { class: 'card' }, h('h2', null, 'Upcoming and recent'), list)));

  list.replaceChildren(h('li', { class: 'muted empty' }, 'Loading your meetings…'));
  try {
    const meetings = await api.listMeetings();
    list.replaceChildren(...(meetings.length
      ? sortMeetings(meetings).map((m) => meetingItem(m, start))
      : [h('li', { class: 'muted empty' }, 'No meetings yet. Start one now, or schedule one for later.')]));
  } catch (err) {
    list.replaceChildren();
    showError(errors, err);
  }
}

// scheduleCard is the form that plans a meeting; onScheduled gets the new meeting.
function scheduleCard(onScheduled) {
  const errors = h('div', { class: 'slot' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'schedule-submit' }, icon('calendar'), 'Schedule');
  const form = h('form', { class: 'stack', 'data-testid': 'schedule-form', novalidate: true },
    field('Topic', { name: 'topic', maxlength: 200, placeholder: 'Weekly team check-in' }),
    h('div', { class: 'row' },
      field('Starts', { name: 'start', type: 'datetime-local' }, `Your time zone: ${timeZone}. Leave empty to start any time.`),
      field('Length', { name: 'duration', value: '60', options: DURATIONS })),
    field('Repeats', { name: 'recurrence', value: '', options: RECURRENCES }),
    h('fieldset', { class: 'checks' }, h('legend', null, 'Who gets in, and how'),
      checkbox('Waiting room: I let each guest in', { name: 'waiting_room', checked: true }),
      checkbox('Passcode for joining by meeting ID', { name: 'use_passcode', checked: true }),
      checkbox('Guests may join before I do', { name: 'join_before_host' })),
    errors, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const v = formValues(form);
    if (v.recurrence && !v.start) {
      showError(errors, 'A repeating meeting needs a start time. Pick when the first one starts.');
      return;
    }
    const body = {
      time_zone: timeZone,
      duration_minutes: Number(v.duration),
      waiting_room: form.elements.waiting_room.checked,
      passcode: form.elements.use_passcode.checked,
      join_before_host: form.elements.join_before_host.checked,
    };
    if (v.topic) body.topic = v.topic;
    if (v.start) body.starts_at = new Date(v.start).toISOString();
    if (v.recurrence) body.recurrence = v.recurrence;
    try {
      const meeting = await busy(submit, () => api.scheduleMeeting(body));
      showError(errors, null);
      form.reset();
      onScheduled(meeting);
      toast('Meeting scheduled. Copy its invite link to send it to the people you want to meet.');
    } catch (err) {
      showError(errors, err);
    }
  });
  return h('section', { class: 'card' }, h('h2', null, 'Schedule a meeting'), form);
}

// Live meetings first, then the upcoming ones soonest first, then those without a time,
// then the ended ones.
function sortMeetings(meetings) {
  const rank = (m) => (m.status === 'live' ? 0 : m.status === 'ended' ? 3 : startOf(m) ? 1 : 2);
  return [...meetings].sort((a, b) => rank(a) - rank(b) || (startOf(a)?.getTime() ?? 0) - (startOf(b)?.getTime() ?? 0));
}

function startOf(m) {
  const when = m.next_start || m.starts_at;
  return when ? new Date(when) : null;
}

function when(m) {
  const repeat = RECURRENCES.find(([value]) => value && value === m.recurrence)?.[1];
  if (m.status === 'live') return `Live now${m.ends_at ? `, until ${timeOnly.format(new Date(m.ends_at))}` : ''}`;
  if (m.status === 'ended') return `Ended${m.ended_at ? ` ${dateTime.format(new Date(m.ended_at))}` : ''}`;
  const start = startOf(m);
  if (!start) return 'Start any time';
  const end = new Date(start.getTime() + m.duration_minutes * 60_000);
  return `${dateTime.format(start)} – ${timeOnly.format(end)}${repeat ? ` · ${repeat}` : ''}`;
}

const STATUS = { live: 'Live', scheduled: 'Scheduled', ended: 'Ended' };

function meetingItem(m, start) {
  // The link itself, to open or to copy by hand; the button copies it for you.
  const link = h('a', { href: m.join_url, class: 'invite-link', 'data-testid': 'invite-link' }, m.join_url);
  const copy = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'copy-invite', 'aria-label': `Copy invite link of ${m.topic}` },
    icon('copy'), 'Copy invite link');
  copy.addEventListener('click', async () => {
    const copied = await copyText(m.join_url);
    toast(copied ? 'Invite link copied. Paste it into an email or a chat.' : `Copy this link and send it: ${m.join_url}`, { timeout: copied ? 6000 : 0 });
  });
  const canStart = m.status !== 'ended' || m.recurrence;
  const startButton = canStart && h('button', {
    type: 'button', class: 'btn btn-primary', 'data-testid': 'start-meeting', 'aria-label': `${m.status === 'live' ? 'Join' : 'Start'} ${m.topic}`,
  }, m.status === 'live' ? 'Join' : 'Start');
  startButton?.addEventListener('click', () => start(m, startButton));
  return h('li', { class: `meeting-item status-${m.status}`, 'data-testid': 'meeting-item', dataset: { meetingId: m.id } },
    h('div', { class: 'mi-head' },
      h('h3', null, m.topic),
      h('span', { class: `badge badge-${m.status}` }, STATUS[m.status] ?? m.status)),
    h('p', { class: 'mi-when' }, when(m)),
    h('p', { class: 'mi-meta muted' }, `Meeting ID ${m.display_id}`, m.passcode ? ` · Passcode ${m.passcode}` : ''),
    h('div', { class: 'mi-invite' }, link, copy),
    startButton && h('div', { class: 'mi-actions' }, startButton));
}

/**
 * startAsHost starts a meeting and goes in with the camera and microphone chosen last
 * time. The address bar then shows the meeting's own link, so that a reload rejoins it.
 */
async function startAsHost(view, id, button, errors) {
  showError(errors, null);
  try {
    const { ticket, media } = await busy(button, async () => {
      const t = await api.startMeeting(id);
      return { ticket: t, media: await openMedia(loadPrefs()) };
    });
    if (!view.active()) {
      stopAll(media.stream);
      return;
    }
    const prefs = loadPrefs();
    const path = new URL(ticket.meeting.join_url, location.href).pathname;
    history.pushState(null, '', path);
    mount(meetingView, {
      ticket, renewTicket: () => api.startMeeting(id), stream: media.stream, micOn: prefs.micOn, camOn: prefs.camOn,
      rejoinPath: path, inviteURL: ticket.meeting.join_url,
    });
  } catch (err) {
    showError(errors, err);
    errors.scrollIntoView({ block: 'nearest' });
  }
}
