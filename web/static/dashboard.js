// dashboard.js: a signed-in person's meetings: start one now, join one, schedule one,
// and the list with each meeting's invite link and a start button; a meeting that has
// not taken place can be changed or cancelled, and one that is over offers no invitation.

import { api, currentUser } from './api.js';
import { titled } from './brand.js';
import { copyText, groupPasscode, h, icon, toast } from './dom.js';
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
  document.title = titled('Your meetings');
  const errors = h('div', { class: 'slot' });
  const list = h('ul', { class: 'meeting-list' });
  const actions = {
    start: (meeting, button) => startAsHost(view, meeting.id, button, errors),
    // changed redraws a meeting's entry after an edit or a cancellation.
    changed: (item, meeting) => {
      const next = meetingItem(meeting, actions);
      item.replaceWith(next);
      return next;
    },
  };
  const start = actions.start;

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
        const item = meetingItem(meeting, actions);
        list.prepend(item);
        item.querySelector('[data-testid=copy-invite]').focus();
      }),
      h('section', { class: 'card' }, h('h2', null, 'Upcoming and recent'), list)));

  list.replaceChildren(h('li', { class: 'muted empty' }, 'Loading your meetings…'));
  try {
    const meetings = await api.listMeetings();
    list.replaceChildren(...(meetings.length
      ? sortMeetings(meetings).map((m) => meetingItem(m, actions))
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
  const rank = (m) => (m.status === 'live' ? 0 : isOver(m) ? 3 : startOf(m) ? 1 : 2);
  return [...meetings].sort((a, b) => rank(a) - rank(b) || (startOf(a)?.getTime() ?? 0) - (startOf(b)?.getTime() ?? 0));
}

// isOver: the meeting will not take place again (ended without recurring, or cancelled).
function isOver(m) {
  return m.status === 'cancelled' || (m.status === 'ended' && !m.recurrence);
}

// isChangeable: the meeting has not taken place (or a recurring one is between occurrences).
function isChangeable(m) {
  return m.status === 'scheduled' || (m.status === 'ended' && !!m.recurrence);
}

function startOf(m) {
  const when = m.next_start || m.starts_at;
  return when ? new Date(when) : null;
}

function when(m) {
  const repeat = RECURRENCES.find(([value]) => value && value === m.recurrence)?.[1];
  if (m.status === 'live') return `Live now${m.ends_at ? `, until ${timeOnly.format(new Date(m.ends_at))}` : ''}`;
  if (m.status === 'cancelled') return `Cancelled${m.ended_at ? ` ${dateTime.format(new Date(m.ended_at))}` : ''}`;
  if (m.status === 'ended' && !m.recurrence) return `Ended${m.ended_at ? ` ${dateTime.format(new Date(m.ended_at))}` : ''}`;
  const start = startOf(m);
  if (!start) return 'Start any time';
  const end = new Date(start.getTime() + m.duration_minutes * 60_000);
  return `${dateTime.format(start)} – ${timeOnly.format(end)}${repeat ? ` · ${repeat}` : ''}`;
}

const STATUS = { live: 'Live', scheduled: 'Scheduled', ended: 'Ended', cancelled: 'Cancelled' };

// meetingItem is a meeting's entry in the list. actions: start(meeting, button), and
// changed(item, meeting) to redraw it after a change.
function meetingItem(m, actions) {
  const over = isOver(m);
  // A recurring meeting between occurrences is waiting for its next one.
  const shown = m.status === 'ended' && m.recurrence ? 'scheduled' : m.status;
  // The link itself, to open or to copy by hand; the button copies it for you.
  const link = h('a', { href: m.join_url, class: 'invite-link', 'data-testid': 'invite-link' }, m.join_url);
  const copy = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'copy-invite', 'aria-label': `Copy invite link of ${m.topic}` },
    icon('copy'), 'Copy invite link');
  copy.addEventListener('click', async () => {
    const copied = await copyText(m.join_url);
    toast(copied ? 'Invite link copied. Paste it into an email or a chat.' : `Copy this link and send it: ${m.join_url}`, { timeout: copied ? 6000 : 0 });
  });
  const startButton = over ? null : h('button', {
    type: 'button', class: 'btn btn-primary', 'data-testid': 'start-meeting', 'aria-label': `${m.status === 'live' ? 'Join' : 'Start'} ${m.topic}`,
  }, m.status === 'live' ? 'Join' : 'Start');
  startButton?.addEventListener('click', () => actions.start(m, startButton));
  const changeable = isChangeable(m);
  const edit = changeable && h('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': 'edit-meeting', 'aria-label': `Edit ${m.topic}`,
    onclick: () => editDialog(m, (next) => {
      actions.changed(item, next).querySelector('[data-testid=edit-meeting]')?.focus();
      toast('Meeting updated. The invite link stays the same.');
    }),
  }, 'Edit');
  const cancel = changeable && h('button', {
    type: 'button', class: 'btn btn-small btn-danger-quiet', 'data-testid': 'cancel-meeting', 'aria-label': `Cancel ${m.topic}`,
    onclick: () => cancelDialog(m, (next) => {
      actions.changed(item, next);
      toast('Meeting cancelled. Anyone who opens its invitation is told so.');
    }),
  }, 'Cancel meeting');
  const item = h('li', { class: `meeting-item status-${shown}`, 'data-testid': 'meeting-item', dataset: { meetingId: m.id } },
    h('div', { class: 'mi-head' },
      h('h3', null, m.topic),
      h('span', { class: `badge badge-${shown}` }, STATUS[shown] ?? shown)),
    h('p', { class: 'mi-when' }, when(m)),
    // A meeting that is over has no invitation to pass on.
    h('p', { class: 'mi-meta muted' }, `Meeting ID ${m.display_id}`, !over && m.passcode ? [' · Passcode ', h('span', { class: 'passcode', 'data-testid': 'passcode' }, groupPasscode(m.passcode))] : ''),
    !over && h('div', { class: 'mi-invite' }, link, copy),
    (startButton || edit) && h('div', { class: 'mi-actions' }, startButton, edit, cancel));
  return item;
}

// modal shows a dialog with a heading and content, removed when it closes.
function modal(title, testid, ...content) {
  const id = `dialog-title-${testid}`;
  const dialog = h('dialog', { class: 'confirm', 'data-testid': testid, 'aria-labelledby': id },
    h('h2', { id }, title), content);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

// localInput is a time as a datetime-local field shows it: in the browser's time zone.
function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// editDialog changes a meeting's plan; onSaved gets the meeting as changed. Only the
// fields the person changed are sent.
function editDialog(m, onSaved) {
  const errors = h('div', { class: 'slot' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'edit-save' }, 'Save changes');
  const durations = DURATIONS.some(([v]) => Number(v) === m.duration_minutes)
    ? DURATIONS : [...DURATIONS, [String(m.duration_minutes), `${m.duration_minutes} minutes`]];
  const zones = h('datalist', { id: 'time-zones' }, (Intl.supportedValuesOf?.('timeZone') ?? []).map((z) => h('option', { value: z })));
  const form = h('form', { class: 'stack', 'data-testid': 'edit-form', novalidate: true },
    field('Topic', { name: 'topic', value: m.topic, maxlength: 200, required: true }),
    h('div', { class: 'row' },
      field('Starts', { name: 'start', type: 'datetime-local', value: localInput(m.starts_at) }, 'In your time zone. Empty: start any time.'),
      field('Length', { name: 'duration', value: String(m.duration_minutes), options: durations })),
    h('div', { class: 'row' },
      field('Repeats', { name: 'recurrence', value: m.recurrence || '', options: RECURRENCES }),
      field('Time zone', { name: 'time_zone', value: m.time_zone, list: 'time-zones', autocomplete: 'off', required: true },
        'Repeats keep their hour here.')),
    zones,
    h('fieldset', { class: 'checks' }, h('legend', null, 'Who gets in, and how'),
      checkbox('Waiting room: I let each guest in', { name: 'waiting_room', checked: m.waiting_room }),
      checkbox('Passcode for joining by meeting ID', { name: 'use_passcode', checked: !!m.passcode }),
      checkbox('Guests may join before I do', { name: 'join_before_host', checked: m.join_before_host }),
      checkbox('Only signed-in people may join', { name: 'require_sign_in', checked: m.require_sign_in })),
    errors,
    h('div', { class: 'confirm-actions' },
      h('button', { type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Discard'), save));
  const dialog = modal(`Edit “${m.topic}”`, 'edit-dialog', form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!validate(form, errors)) return;
    const v = formValues(form);
    if (v.recurrence && !v.start) {
      showError(errors, 'A repeating meeting needs a start time. Pick when the first one starts.');
      return;
    }
    const body = {};
    if (v.topic !== m.topic) body.topic = v.topic;
    if (v.start !== localInput(m.starts_at)) body.starts_at = v.start ? new Date(v.start).toISOString() : '';
    if (Number(v.duration) !== m.duration_minutes) body.duration_minutes = Number(v.duration);
    if (v.recurrence !== (m.recurrence || '')) body.recurrence = v.recurrence;
    if (v.time_zone !== m.time_zone) body.time_zone = v.time_zone;
    for (const [name, was] of [['waiting_room', m.waiting_room], ['join_before_host', m.join_before_host], ['require_sign_in', m.require_sign_in]]) {
      if (form.elements[name].checked !== was) body[name] = form.elements[name].checked;
    }
    if (form.elements.use_passcode.checked !== !!m.passcode) body.passcode = form.elements.use_passcode.checked;
    if (!Object.keys(body).length) {
      dialog.close();
      return;
    }
    try {
      const next = await busy(save, () => api.updateMeeting(m.id, body));
      dialog.close();
      onSaved(next);
    } catch (err) {
      showError(errors, err);
    }
  });
  form.elements.topic.focus();
}

// cancelDialog asks before cancelling a meeting: it cannot be undone.
function cancelDialog(m, onCancelled) {
  const errors = h('div', { class: 'slot' });
  const confirm = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'cancel-confirm' }, 'Cancel meeting');
  const dialog = modal(`Cancel “${m.topic}”?`, 'cancel-dialog',
    h('p', null, m.recurrence
      ? 'Every coming occurrence is cancelled. Anyone who opens the invitation is told the meeting was cancelled. This cannot be undone.'
      : 'Anyone who opens the invitation is told the meeting was cancelled. This cannot be undone.'),
    errors,
    h('div', { class: 'confirm-actions' },
      h('button', { type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Keep it'), confirm));
  confirm.addEventListener('click', async () => {
    try {
      const next = await busy(confirm, () => api.cancelMeeting(m.id));
      dialog.close();
      onCancelled(next);
    } catch (err) {
      showError(errors, err);
    }
  });
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
