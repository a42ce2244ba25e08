// join.js: the page before a meeting. It names the meeting and its host as soon as it
// knows the invitation (at once for a join link; by id, once the passcode is given), and
// says right away when the meeting is over or has not started. A guest gives a name (and,
// joining by meeting id, the passcode), checks camera and microphone in a preview, picks
// devices, chooses to join muted or with the camera off, and joins. Refusals say what to
// do; a meeting that has not started is retried until the host starts it.

import { api, currentUser } from './api.js';
import { titled } from './brand.js';
import { h, icon, initials } from './dom.js';
import { describe, errorBox, showError } from './errors.js';
import { busy, field, page, validate } from './layout.js';
import { listDevices, loadPrefs, mediaProblem, meter, openMedia, savePrefs, stopAll, switchDevice } from './media.js';
import { meetingView } from './meeting.js';
import { mount } from './router.js';

const NAME_KEY = 'meridian.name';
const HOST_POLL_MS = 5000; // how often to ask again while the host has not started
// Refusals after which joining cannot work, however often one tries.
const FINAL = new Set(['meeting_ended', 'meeting_cancelled']);
const when = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', hour: 'numeric', minute: '2-digit' });

export function joinByLinkPage(view, { match }) {
  return joinPage(view, { linkToken: decodeURIComponent(match[1]) });
}

export function joinByIdPage(view, { query }) {
  return joinPage(view, { meetingId: query.get('id') ?? '' });
}

async function joinPage(view, { linkToken, meetingId }) {
  const me = await currentUser().catch(() => null);
  if (!view.active()) return;
  const preview = new Preview(view);
  const errors = h('div', { class: 'slot' });
  const status = h('div', { class: 'slot' });
  const heading = h('h1', null, linkToken ? 'You are invited to a meeting' : 'Join a meeting');
  const about = h('div', { class: 'slot invite-about' });
  const lead = h('p', { class: 'lead' }, 'Check how you look and sound, then join.');
  const joinButton = h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-large', 'data-testid': 'join-button' }, 'Join now');
  const form = h('form', { class: 'stack', 'data-testid': 'join-form', novalidate: true },
    !linkToken && field('Meeting ID', {
      name: 'meeting_id', value: meetingId, required: true, autocomplete: 'off', inputmode: 'numeric', placeholder: '123 4567 8901',
    }),
    // Typed as read out: capitals or not, with or without the dashes.
    !linkToken && field('Passcode', {
      name: 'passcode', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false',
    }, 'From the invitation, in capitals or not. Leave it empty if there is none.'),
    field('Your name', {
      name: 'display_name', required: !me, maxlength: 100, autocomplete: 'name',
      value: me?.user.display_name || localStorage.getItem(NAME_KEY) || '',
    }, 'Shown to the others in the meeting.'),
    errors, status, joinButton);

  // request is what the form says, as a body for POST /api/join.
  const request = () => {
    const values = Object.fromEntries(new FormData(form));
    const body = { display_name: (values.display_name ?? '').trim() };
    if (linkToken) body.link_token = linkToken;
    else Object.assign(body, { meeting_id: values.meeting_id.trim(), passcode: values.passcode.trim() });
    return body;
  };

  const enter = (t, ticket) => {
    localStorage.setItem(NAME_KEY, form.elements.display_name.value.trim());
    mount(meetingView, {
      ticket: t, renewTicket: ticket, ...preview.handOver(),
      rejoinPath: location.pathname + location.search,
      inviteURL: linkToken ? location.origin + location.pathname : undefined,
    });
  };

  // closed: the meeting is over; joining is no longer offered.
  const closed = () => {
    for (const el of form.elements) el.disabled = true;
    lead.hidden = true;
  };

  // describeMeeting shows what the invitation is for, and whether it can be joined now.
  const describeMeeting = (info) => {
    heading.textContent = info.topic;
    const note = FINAL.has(`meeting_${info.status}`)
      ? errorBox({ code: `meeting_${info.status}` })
      : info.status === 'scheduled' && h('div', { class: 'alert alert-warn', role: 'status' }, h('p', null,
        info.starts_at
          ? `This meeting has not started yet. It is planned for ${when.format(new Date(info.starts_at))}. You can join now and wait for the host.`
          : 'This meeting has not started yet. You can join now and wait for the host to start it.'));
    about.replaceChildren(h('div', { 'data-testid': 'meeting-status', dataset: { status: info.status } },
      h('p', { class: 'invite-host', 'data-testid': 'invite-host' }, `Hosted by ${info.host_name}`), note));
    if (note && FINAL.has(`meeting_${info.status}`)) closed();
  };
  const lookUp = async (body) => {
    try {
      const info = await api.lookup(body);
      if (view.active()) describeMeeting(info);
    } catch {
      // Joining says what is wrong, in its place; the page just names no meeting.
      if (view.active()) about.replaceChildren();
    }
  };
  if (linkToken) lookUp({ link_token: linkToken });
  else {
    // By id the passcode proves the invitation: asking before it is given would be a guess.
    const byId = () => {
      const { meeting_id: id, passcode } = request();
      if (passcode && id.replace(/\D/g, '').length === 11) lookUp({ meeting_id: id, passcode });
    };
    form.elements.meeting_id.addEventListener('change', byId);
    form.elements.passcode.addEventListener('change', byId);
  }

  const refuse = (err) => {
    const signIn = err.code === 'sign_in_required' &&
      h('a', { href: `/signin?next=${encodeURIComponent(location.pathname + location.search)}`, class: 'btn btn-small' }, 'Sign in');
    showError(errors, err, signIn);
    if (FINAL.has(err.code)) closed();
    if (err.code === 'rate_limited' && err.retryAfter) {
      joinButton.disabled = true;
      setTimeout(() => { joinButton.disabled = false; }, err.retryAfter * 1000);
    }
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(errors, null);
    if (!validate(form, errors)) return;
    // The meeting asks again with the same answers to reconnect.
    const body = request();
    const ticket = () => api.join(body);
    try {
      enter(await busy(joinButton, ticket), ticket);
    } catch (err) {
      if (err.code === 'waiting_for_host') waitForHost({ view, form, status, ticket, enter, refuse, err });
      else refuse(err);
    }
  });

  document.title = titled('Join a meeting');
  page(view, me, h('div', { class: 'join-layout' },
    preview.el, preview.devices,
    h('section', { class: 'card join-card' },
      heading, about, lead, form)));
  preview.start();
}

/**
 * waitForHost shows that the meeting has not started and asks again every few seconds,
 * joining as soon as the host has started it, until the person stops waiting.
 */
function waitForHost({ view, form, status, ticket, enter, refuse, err }) {
  const stop = new AbortController();
  view.onCleanup(() => stop.abort());
  for (const el of form.elements) el.disabled = true;
  const done = () => {
    stop.abort();
    status.replaceChildren();
    for (const el of form.elements) el.disabled = false;
  };
  status.replaceChildren(h('div', { class: 'waiting-host', 'data-testid': 'waiting-room', role: 'status' },
    h('div', { class: 'spinner', 'aria-hidden': 'true' }),
    h('div', null,
      h('p', { class: 'strong' }, 'Waiting for the host to start the meeting'),
      h('p', { 'data-testid': 'error', dataset: { code: err.code } }, describe(err)),
      h('button', { type: 'button', class: 'btn btn-small', onclick: done }, 'Stop waiting'))));
  (async () => {
    while (!stop.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, HOST_POLL_MS));
      if (stop.signal.aborted) return;
      try {
        const t = await ticket();
        if (stop.signal.aborted) return;
        done();
        enter(t, ticket);
        return;
      } catch (e) {
        if (e.code === 'waiting_for_host' || e.code === 'network') continue;
        if (stop.signal.aborted) return;
        done();
        refuse(e);
        return;
      }
    }
  })();
}

/**
 * Preview is the camera and microphone check of the join page: the picture, a level
 * meter and on/off toggles (el), and the device pickers (devices). handOver gives its media to the meeting;
 * whatever is not handed over stops with the page.
 */
class Preview {
  #view;
  #prefs = loadPrefs();
  #stream = new MediaStream();
  #handedOver = false;
  #stopMeter = () => {};
  #video = h('video', { 'data-testid': 'preview', autoplay: true, muted: true, playsinline: true, class: 'mirror' });
  #off = h('div', { class: 'preview-off' }, h('span', { class: 'avatar hue-0' }, h('span', { class: 'avatar-initials' }, initials(localStorage.getItem(NAME_KEY) || 'You'))));
  #bar = h('span', { class: 'meter-bar' });
  #micButton = h('button', { type: 'button', class: 'round-btn', 'data-testid': 'preview-mic', onclick: () => this.#toggle('micOn') });
  #camButton = h('button', { type: 'button', class: 'round-btn', 'data-testid': 'preview-camera', onclick: () => this.#toggle('camOn') });
  #camSelect = h('select', { id: 'camera-select', 'data-testid': 'camera-select', onchange: () => this.#switch('video') });
  #micSelect = h('select', { id: 'mic-select', 'data-testid': 'mic-select', onchange: () => this.#switch('audio') });
  #note = h('div', { class: 'slot' });

  constructor(view) {
    this.#view = view;
    view.onCleanup(() => {
      this.#stopMeter();
      if (!this.#handedOver) stopAll(this.#stream);
    });
    this.el = h('section', { class: 'preview-card', 'aria-label': 'Camera and microphone check' },
      h('div', { class: 'preview' }, this.#video, this.#off,
        h('div', { class: 'preview-controls' }, this.#micButton, this.#camButton),
        h('div', { class: 'meter', title: 'Microphone level' }, this.#bar)),
      this.#note);
    this.devices = h('div', { class: 'devices' },
      h('div', { class: 'field' }, h('label', { for: 'camera-select' }, 'Camera'), this.#camSelect),
      h('div', { class: 'field' }, h('label', { for: 'mic-select' }, 'Microphone'), this.#micSelect));
    fillSelect(this.#camSelect, [], null, 'Looking for cameras…');
    fillSelect(this.#micSelect, [], null, 'Looking for microphones…');
    this.#refresh();
  }

  async start() {
    const { stream, error } = await openMedia({ cameraId: this.#prefs.cameraId, micId: this.#prefs.micId });
    if (!this.#view.active()) {
      stopAll(stream);
      return;
    }
    this.#stream = stream;
    if (error) this.#note.replaceChildren(h('p', { class: 'alert alert-warn', role: 'status' }, mediaProblem(error)));
    this.#attach();
    await this.#fillDevices();
  }

  /** handOver gives the media to the meeting: {stream, micOn, camOn}. */
  handOver() {
    this.#handedOver = true;
    this.#stopMeter();
    savePrefs({ micOn: this.#prefs.micOn, camOn: this.#prefs.camOn });
    return { stream: this.#stream, micOn: this.#prefs.micOn, camOn: this.#prefs.camOn };
  }

  #attach() {
    const [cam] = this.#stream.getVideoTracks();
    const [mic] = this.#stream.getAudioTracks();
    this.#video.srcObject = cam ? new MediaStream([cam]) : null;
    this.#stopMeter();
    this.#stopMeter = meter(mic, this.#bar);
    this.#refresh();
  }

  #toggle(key) {
    this.#prefs[key] = !this.#prefs[key];
    savePrefs({ [key]: this.#prefs[key] });
    this.#refresh();
  }

  #refresh() {
    const [cam] = this.#stream.getVideoTracks();
    const [mic] = this.#stream.getAudioTracks();
    const micOn = !!mic && this.#prefs.micOn;
    const camOn = !!cam && this.#prefs.camOn;
    if (mic) mic.enabled = this.#prefs.micOn;
    if (cam) cam.enabled = this.#prefs.camOn;
    setToggle(this.#micButton, micOn ? 'mic' : 'micOff', micOn ? 'Mute' : 'Unmute', micOn, !mic);
    setToggle(this.#camButton, camOn ? 'camera' : 'cameraOff', camOn ? 'Stop video' : 'Start video', camOn, !cam);
    this.#off.hidden = camOn;
  }

  async #fillDevices() {
    const { cameras, mics } = await listDevices();
    fillSelect(this.#camSelect, cameras, this.#stream.getVideoTracks()[0], 'No camera found');
    fillSelect(this.#micSelect, mics, this.#stream.getAudioTracks()[0], 'No microphone found');
  }

  async #switch(kind) {
    const select = kind === 'video' ? this.#camSelect : this.#micSelect;
    try {
      const { old, track } = await switchDevice(this.#stream, kind, select.value);
      old?.stop();
      savePrefs({ [kind === 'video' ? 'cameraId' : 'micId']: track.getSettings().deviceId ?? select.value });
      this.#prefs = loadPrefs();
      this.#note.replaceChildren();
      this.#attach();
    } catch (err) {
      this.#note.replaceChildren(h('p', { class: 'alert alert-warn', role: 'status' }, mediaProblem(err)));
    }
  }
}

// setToggle draws a preview toggle: its icon and label (the action it takes), whether the
// device is on (data-state), and disabled without a device.
function setToggle(button, iconName, label, on, missing) {
  button.replaceChildren(icon(iconName));
  button.setAttribute('aria-label', missing ? `${label} (no device)` : label);
  button.title = missing ? 'No device available' : label;
  button.dataset.state = on ? 'on' : 'off';
  button.disabled = missing;
}

function fillSelect(select, devices, track, none) {
  const current = track?.getSettings().deviceId;
  select.replaceChildren(...(devices.length
    ? devices.map((d) => h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label))
    : [h('option', { value: '' }, none)]));
  select.disabled = devices.length === 0;
}
