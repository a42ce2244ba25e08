// meeting.js: a meeting in progress. It runs the signalling session (signal.js), keeps the
// meeting's state (who is here, which tracks they publish, who waits in the lobby) and
// draws it: the waiting room while held there, then the stage, the controls and the
// chat and people panels. It ends on the screen that says why (ended.js).

import { titled } from './brand.js';
import { h, icon, toast, copyText, groupPasscode } from './dom.js';
import { endedPage } from './ended.js';
import { describe } from './errors.js';
import { brand } from './layout.js';
import { stopAll } from './media.js';
import { ChatPanel, PeoplePanel } from './panels.js';
import { QualityIndicator } from './quality.js';
import { mount } from './router.js';
import { Session } from './signal.js';
import { AudioSink, Stage, roleName } from './tiles.js';

// After the signalling connection drops (its node went away, or the network did), the
// meeting joins again through the API, with the same answers as the first time: the answer
// names the node carrying the meeting now, another one when the old one died (the registry
// counts a silent node down after 3 s, so the first answers may still name the dead one).
// The pauses between attempts, the last repeated, for REJOIN_FOR_MS in all; a fresh ticket
// each time (a join token is only good for a few minutes).
const REJOIN_DELAYS_MS = [250, 500, 500, 1000, 1000, 2000, 4000];
const REJOIN_FOR_MS = 30_000;
const ATTEMPT_MS = 10_000; // a node that neither lets us in nor refuses
const MAX_RECONNECTS = 5; // drops per meeting, so that a node that keeps dropping us ends it
// The node's reasons for closing a session after which joining again can work: the node is
// shutting down, or one of our connections failed.
const DROPS = new Set(['room closed', 'publisher connection failed', 'subscriber connection failed']);

// The host controls as signalling messages (the session-2 contract).
const MODERATION = {
  mute: (id) => ({ type: 'mute', participantId: id, source: 'microphone', muted: true }),
  'stop-video': (id) => ({ type: 'mute', participantId: id, source: 'camera', muted: true }),
  remove: (id) => ({ type: 'remove', participantId: id }),
  'make-cohost': (id) => ({ type: 'setRole', participantId: id, role: 'cohost' }),
  'remove-cohost': (id) => ({ type: 'setRole', participantId: id, role: '' }),
  admit: (id) => ({ type: 'admit', participantId: id }),
  deny: (id) => ({ type: 'deny', participantId: id }),
  admitAll: () => ({ type: 'admitAll' }),
  muteAll: () => ({ type: 'muteAll' }),
  lock: () => ({ type: 'lock', locked: true }),
  unlock: () => ({ type: 'lock', locked: false }),
};

// Words for the node's errors that a person should hear about.
const ERRORS = {
  not_host: 'Only the host or a co-host can do that.',
  unknown_participant: 'That person is no longer in the meeting.',
  rate_limited: 'You are sending too fast. Wait a moment, then try again.',
  bad_chat: 'That message could not be sent: it is too long.',
};

// Refusals of a join that trying again will not change.
const JOIN_REFUSALS = new Set(['ended', 'removed', 'denied', 'locked', 'full']);

// Who did something to us, in words.
function byWhom(by) {
  return by?.name || by?.identity || 'The host';
}

const FORCED = {
  microphone: (by) => `${byWhom(by)} muted your microphone. Unmute when you want to speak.`,
  camera: (by) => `${byWhom(by)} turned off your camera. You can turn it back on.`,
  screen: (by) => `${byWhom(by)} stopped your screen share.`,
};

// The signalling URL of a ticket: that of the node carrying the meeting, which may be
// another than the one serving this page; this page's own without one.
function wsURL(ticket) {
  if (ticket.signal_url) return ticket.signal_url;
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${ticket.ws_path || '/ws'}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * meetingView runs a meeting. params:
 *   ticket: from POST /api/join or /api/meetings/{id}/start;
 *   renewTicket(): resolves to a fresh ticket, to reconnect after a drop;
 *   stream, micOn, camOn: the local microphone and camera (stopped when the meeting ends);
 *   rejoinPath: the join page to come back through; inviteURL: the link to share, if known.
 */
export function meetingView(view, params) {
  const meeting = new Meeting(view, params);
  view.onCleanup(() => meeting.dispose());
  meeting.connect(params.ticket);
}

class Meeting {
  session = null;
  ticket = null;
  self = null; // own participant info, with role
  canPublish = true;
  people = new Map(); // id -> participant info, others only
  tracks = new Map(); // the node's track id -> track info (with muted)
  shown = new Map(); // the node's track id -> {track, info} being played
  lobby = [];
  locked = false;
  panel = null; // "chat", "people" or null
  unread = 0;
  closeLobbyToast = null; // dismisses the latest "someone is waiting" toast
  chatToasts = new Set(); // dismiss the toasts of chat messages (they offer "Open chat")
  screen = null; // {stream, transceivers} while sharing
  mode = null; // "waiting" or "meeting": what the view shows
  ended = false; // the meeting is over for us: events are ignored from now on
  disposed = false;
  endingByMe = false;
  reconnects = 0;
  joinRetries = 0;
  trying = null; // while rejoining: settles the session being tried, with whether it got in
  clockTimer = 0;

  constructor(view, params) {
    this.view = view;
    this.params = params;
    this.stream = params.stream ?? new MediaStream();
    this.mic = this.stream.getAudioTracks()[0] ?? null;
    this.cam = this.stream.getVideoTracks()[0] ?? null;
    this.micOn = !!this.mic && params.micOn !== false;
    this.camOn = !!this.cam && params.camOn !== false;
    if (this.mic) this.mic.enabled = this.micOn;
    if (this.cam) this.cam.enabled = this.camOn;
    this.topic = params.ticket.meeting?.topic || 'Meeting';

    this.stage = new Stage((trackId, maxHeight) => this.session?.send({ type: 'videoPreference', trackId, maxHeight }));
    this.audio = new AudioSink(() => this.#soundBlocked());
    this.chat = new ChatPanel({ onSend: (text) => this.session?.send({ type: 'chat', text }), onClose: () => this.#openPanel(null) });
    this.peoplePanel = new PeoplePanel({ onAction: (action, id) => this.#moderate(action, id), onClose: () => this.#openPanel(null) });
    this.quality = new QualityIndicator();
    this.notices = h('div', { class: 'meeting-notices' });
    this.onPageHide = () => this.session?.leave();
    addEventListener('pagehide', this.onPageHide);
  }

  // ---- the session ----

  connect(ticket) {
    this.ticket = ticket;
    const session = new Session(wsURL(ticket));
    this.session = session;
    // Events of a session that has been replaced (after a reconnect) are stale.
    const on = (type, fn) => session.on(type, (msg) => {
      if (this.session === session && !this.ended) fn.call(this, msg);
    });
    on('waiting', this.#onWaiting);
    on('joined', this.#onJoined);
    on('participantJoined', this.#onParticipantJoined);
    on('participantLeft', this.#onParticipantLeft);
    on('participantUpdated', this.#onParticipantUpdated);
    on('trackPublished', this.#onTrackPublished);
    on('trackUnpublished', this.#onTrackUnpublished);
    on('trackMuted', this.#onTrackMuted);
    on('tracks', this.#reconcile);
    on('speakers', this.#onSpeakers);
    on('chat', this.#onChat);
    on('lobby', this.#onLobby);
    on('roomState', this.#onRoomState);
    on('forceMuted', this.#onForceMuted);
    on('notice', this.#onNotice);
    on('error', this.#onError);
    on('closed', ({ reason }) => (DROPS.has(reason) ? this.#onDisconnected({ reason }) : this.end(reason)));
    on('disconnected', this.#onDisconnected);
    session.connect(ticket.token);
  }

  #onWaiting() {
    this.trying?.(true);
    this.#renderWaiting();
  }

  #onJoined(msg) {
    this.trying?.(true);
    this.self = { ...msg.participant, role: msg.participant.role || (msg.grants?.host ? 'host' : '') };
    this.canPublish = msg.grants?.publish !== false;
    this.locked = !!msg.locked;
    this.lobby = msg.waiting ?? [];
    this.people.clear();
    this.tracks.clear();
    this.shown.clear();
    this.#renderMeeting();
    this.lockBadge.hidden = !this.locked;
    this.notices.querySelector('.reconnecting')?.remove();
    this.stage.clear();
    this.audio.clear();
    this.stage.upsert(this.self, true);
    this.stage.show(this.self.id, 'camera', 'local', this.cam);
    for (const p of msg.participants ?? []) {
      this.people.set(p.id, p);
      this.stage.upsert(p);
    }
    for (const t of msg.tracks ?? []) this.tracks.set(t.id, t);
    for (const id of [this.self.id, ...this.people.keys()]) this.stage.setState(id, this.#mediaOf(id));
    this.#renderPeople();
    this.#refreshControls();
    this.#publish();
  }

  async #publish() {
    if (!this.canPublish) return;
    const tracks = [];
    if (this.mic) tracks.push({ track: this.mic, source: 'microphone' });
    if (this.cam) tracks.push({ track: this.cam, source: 'camera', simulcast: true });
    if (!tracks.length) return;
    // A source muted before its track is published starts muted.
    if (this.mic && !this.micOn) this.session.send({ type: 'mute', source: 'microphone', muted: true });
    if (this.cam && !this.camOn) this.session.send({ type: 'mute', source: 'camera', muted: true });
    try {
      await this.session.publish(tracks);
    } catch (err) {
      console.error(err);
      toast('Your camera and microphone could not be connected to the meeting. Others cannot see or hear you; rejoin to try again.', { tone: 'error', timeout: 0 });
    }
  }

  #onParticipantJoined({ participant }) {
    this.people.set(participant.id, participant);
    this.stage.upsert(participant);
    this.stage.setState(participant.id, this.#mediaOf(participant.id));
    this.#renderPeople();
  }

  #onParticipantLeft({ participantId }) {
    this.people.delete(participantId);
    for (const [id, t] of this.tracks) {
      if (t.participantId === participantId) this.tracks.delete(id);
    }
    this.#reconcile();
    this.stage.remove(participantId);
    this.#renderPeople();
  }

  #onParticipantUpdated({ participant }) {
    if (participant.id === this.self.id) {
      const before = this.self.role;
      this.self = { ...this.self, ...participant };
      if (before !== this.self.role) {
        toast(this.self.role ? `You are now ${roleName(this.self.role).toLowerCase()} of this meeting.` : 'You are no longer a co-host.');
      }
      this.stage.upsert(this.self, true);
      this.#refreshControls();
    } else {
      this.people.set(participant.id, participant);
      this.stage.upsert(participant);
    }
    this.#renderPeople();
  }

  #onTrackPublished({ track }) {
    this.tracks.set(track.id, track);
    this.#refreshPerson(track.participantId);
    this.#reconcile();
  }

  #onTrackUnpublished({ trackId, participantId }) {
    this.tracks.delete(trackId);
    this.#unshow(trackId);
    this.#refreshPerson(participantId);
  }

  #onTrackMuted({ trackId, muted }) {
    const track = this.tracks.get(trackId);
    if (!track) return;
    track.muted = muted;
    this.#refreshPerson(track.participantId);
  }

  #onSpeakers({ speakers }) {
    this.stage.setSpeaking(new Set((speakers ?? []).map((s) => s.participantId)));
  }

  #onChat(msg) {
    this.chat.add(msg, this.self?.id);
    if (this.panel === 'chat' || msg.from?.id === this.self?.id) return;
    this.unread++;
    this.#refreshUnread();
    const close = toast(`${msg.from?.name || 'Someone'}: ${msg.text}`, { timeout: 4000, action: { label: 'Open chat', run: () => this.#openPanel('chat') } });
    this.chatToasts.add(close);
    setTimeout(() => this.chatToasts.delete(close), 4000);
  }

  #onLobby({ waiting }) {
    const before = new Set(this.lobby.map((p) => p.id));
    this.lobby = waiting ?? [];
    this.#renderPeople();
    // The last "is waiting" toast is out of date now: replace it, or drop it.
    this.closeLobbyToast?.();
    this.closeLobbyToast = null;
    const arrived = this.lobby.filter((p) => !before.has(p.id));
    if (!arrived.length || this.panel === 'people' || !this.#isModerator()) return;
    const who = arrived.length === 1 ? `${arrived[0].name || 'A guest'} is` : `${arrived.length} people are`;
    this.closeLobbyToast = toast(`${who} waiting to join.`,
      { timeout: 15000, action: { label: 'See waiting room', run: () => this.#openPanel('people') } });
  }

  #onRoomState({ locked }) {
    this.locked = !!locked;
    this.#renderPeople();
    this.lockBadge.hidden = !this.locked;
    toast(this.locked ? 'The meeting is locked: nobody new can join.' : 'The meeting is unlocked: people with the invitation can join.');
  }

  #onForceMuted({ source, by }) {
    if (source === 'microphone') this.setMic(false, false);
    else if (source === 'camera') this.setCam(false, false);
    else this.stopScreen();
    toast((FORCED[source] ?? FORCED.screen)(by), { tone: 'warn', timeout: 10000 });
  }

  #onNotice({ message }) {
    if (message) toast(message, { tone: 'warn', timeout: 20000 });
  }

  #onError({ code, message }) {
    // A join may meet a room that is closing; the node lets us try again.
    const joining = !this.self || !!this.trying;
    if (code === 'room_closed' && joining && this.joinRetries++ < 3) {
      setTimeout(() => this.session?.send({ type: 'join', token: this.ticket.token }), 1000);
      return;
    }
    if (code === 'token_expired' || code === 'token_invalid') {
      this.end('expired');
      return;
    }
    // A join refused for good (docs/protocol.md, Admission) ends the page, saying why.
    if (joining && JOIN_REFUSALS.has(code)) {
      this.end(code);
      return;
    }
    if (ERRORS[code]) toast(ERRORS[code], { tone: 'error' });
    else if (code !== 'waiting') console.warn(`meridian: ${code}: ${message}`);
  }

  #onDisconnected({ reason }) {
    if (this.trying) {
      this.trying(false); // the node tried did not let us in: the rejoin goes on
      return;
    }
    if (!this.self || this.reconnects >= MAX_RECONNECTS) {
      this.end(reason || 'connection');
      return;
    }
    this.reconnects++;
    this.#rejoin();
  }

  // rejoin asks the API for a ticket again and connects to the node it names, until one
  // lets us in; #onJoined then publishes camera and microphone again. A refusal that
  // trying again cannot change ends the meeting; one that can (no allowed node has room,
  // the control plane cannot be asked) is shown, and the last one seen is why it ends
  // when the time is up.
  async #rejoin() {
    this.stopScreen();
    for (const id of [...this.shown.keys()]) this.#unshow(id); // their connection is gone
    this.joinRetries = 0;
    const words = h('span', null, 'Connection lost. Reconnecting…');
    this.notices.querySelector('.reconnecting')?.remove();
    this.notices.append(h('p', { class: 'notice reconnecting', role: 'status', 'data-testid': 'reconnecting' }, words));
    const until = Date.now() + REJOIN_FOR_MS;
    let refusal = null;
    for (let i = 0; Date.now() < until; i++) {
      await sleep(Math.max(REJOIN_DELAYS_MS[Math.min(i, REJOIN_DELAYS_MS.length - 1)], (refusal?.retryAfter ?? 0) * 1000));
      if (this.ended) return;
      let ticket;
      try {
        ticket = await this.params.renewTicket();
      } catch (err) {
        if (err.code !== 'network' && err.code !== 'rate_limited' && !(err.status >= 500)) {
          this.end(err.code);
          return;
        }
        refusal = err;
        words.textContent = `Reconnecting… ${describe(err)}`;
        continue;
      }
      refusal = null;
      if (this.ended || await this.#tryJoin(ticket)) return;
    }
    if (!this.ended) this.end(refusal?.code ?? 'connection');
  }

  // tryJoin connects with ticket and resolves to whether the node let us in.
  #tryJoin(ticket) {
    return new Promise((resolve) => {
      const settle = (ok) => {
        clearTimeout(timer);
        this.trying = null;
        resolve(ok);
      };
      this.trying = settle;
      this.connect(ticket);
      const session = this.session;
      const timer = setTimeout(() => {
        session.close();
        settle(false);
      }, ATTEMPT_MS);
    });
  }

  // reconcile plays each received track in the right place: by the latest subscriber
  // offer's mid -> track id table and the track's info from trackPublished.
  #reconcile() {
    const live = this.session?.remoteTracks() ?? new Map();
    for (const [id, { track }] of this.shown) {
      if (live.get(id) !== track || !this.tracks.has(id)) this.#unshow(id);
    }
    for (const [id, track] of live) {
      const info = this.tracks.get(id);
      if (!info || this.shown.has(id) || info.participantId === this.self?.id) continue;
      if (info.kind === 'audio') this.audio.attach(id, track, info);
      else this.stage.show(info.participantId, info.source === 'screen' ? 'screen' : 'camera', id, track);
      this.shown.set(id, { track, info });
    }
  }

  #unshow(id) {
    const entry = this.shown.get(id);
    if (!entry) return;
    this.shown.delete(id);
    const { participantId, kind, source } = entry.info;
    if (kind === 'audio') this.audio.detach(id);
    else this.stage.hide(participantId, source === 'screen' ? 'screen' : 'camera', id);
  }

  // ---- local media ----

  /** setMic turns the microphone on or off; tell: whether to tell the node (not when it told us). */
  setMic(on, tell = true) {
    if (!this.mic) return;
    this.micOn = on;
    this.mic.enabled = on;
    if (tell) this.session?.send({ type: 'mute', source: 'microphone', muted: !on });
    this.#refreshPerson(this.self?.id);
    this.#refreshControls();
  }

  setCam(on, tell = true) {
    if (!this.cam) return;
    this.camOn = on;
    this.cam.enabled = on;
    if (tell) this.session?.send({ type: 'mute', source: 'camera', muted: !on });
    this.#refreshPerson(this.self?.id);
    this.#refreshControls();
  }

  async toggleScreen() {
    if (this.screen) {
      await this.stopScreen();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: true });
    } catch (err) {
      if (err.name !== 'NotAllowedError' && err.name !== 'AbortError') {
        toast('Screen sharing could not start. Check that your browser may record the screen, then try again.', { tone: 'error' });
      }
      return;
    }
    if (this.ended || !this.self) {
      stopAll(stream);
      return;
    }
    const [video] = stream.getVideoTracks();
    const [audio] = stream.getAudioTracks();
    video.contentHint = 'detail';
    video.addEventListener('ended', () => this.stopScreen()); // the browser's own "Stop sharing"
    const screen = { stream, transceivers: [] };
    this.screen = screen;
    this.stage.show(this.self.id, 'screen', 'local', video);
    this.#refreshControls();
    const tracks = [{ track: video, source: 'screen' }];
    if (audio) tracks.push({ track: audio, source: 'screen_audio' });
    try {
      screen.transceivers = await this.session.publish(tracks);
      if (this.screen !== screen) await this.session.unpublish(screen.transceivers); // stopped meanwhile
    } catch (err) {
      console.error(err);
      toast('Your screen could not be shared with the meeting. Try again.', { tone: 'error' });
      await this.stopScreen();
    }
  }

  async stopScreen() {
    const screen = this.screen;
    if (!screen) return;
    this.screen = null;
    stopAll(screen.stream);
    if (this.self) this.stage.show(this.self.id, 'screen', null, null);
    this.#refreshControls();
    await this.session?.unpublish(screen.transceivers).catch((err) => console.warn('meridian: unpublish:', err));
  }

  // ---- leaving ----

  leave() {
    this.session?.leave();
    this.end('left');
  }

  // Ending is for everyone and cannot be undone, so it is asked once more.
  #confirmEnd() {
    const dialog = h('dialog', { class: 'confirm', 'data-testid': 'end-dialog', 'aria-labelledby': 'end-title' },
      h('h2', { id: 'end-title' }, 'End the meeting for everyone?'),
      h('p', null, 'Everyone leaves the meeting at once. To leave and let the others go on, choose Leave instead.'),
      h('div', { class: 'confirm-actions' },
        h('button', { type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Cancel'),
        h('button', {
          type: 'button', class: 'btn btn-danger', 'data-testid': 'end-confirm',
          onclick: () => { dialog.close(); this.endForAll(); },
        }, 'End for all')));
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  endForAll() {
    this.endingByMe = true;
    this.session?.send({ type: 'endMeeting' });
  }

  /** end shows why the meeting ended; everything of the meeting stops. */
  end(reason) {
    if (this.ended) return;
    this.ended = true;
    mount(endedPage, {
      reason: reason === 'ended' && this.endingByMe ? 'ended_by_you' : reason,
      rejoinPath: this.params.rejoinPath,
    });
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.ended = true;
    removeEventListener('pagehide', this.onPageHide);
    this.session?.leave();
    this.quality.stop();
    clearInterval(this.clockTimer);
    this.stage.dispose();
    this.audio.clear();
    stopAll(this.stream);
    stopAll(this.screen?.stream);
  }

  // ---- drawing ----

  #renderWaiting() {
    if (this.mode === 'waiting') return;
    this.mode = 'waiting';
    const preview = h('video', { autoplay: true, muted: true, playsinline: true, class: 'mirror' });
    if (this.cam) preview.srcObject = new MediaStream([this.cam]);
    document.title = titled(`Waiting to join · ${this.topic}`);
    this.view.root.replaceChildren(
      h('header', { class: 'site-header' }, brand()),
      h('main', { id: 'main', class: 'page' },
        h('section', { class: 'card narrow center waiting', 'data-testid': 'waiting-room' },
          this.cam && this.camOn && h('div', { class: 'waiting-preview' }, preview),
          h('div', { class: 'spinner', 'aria-hidden': 'true' }),
          h('h1', null, 'Waiting for the host to let you in'),
          h('p', { class: 'lead' }, 'The host knows you are here. Keep this page open: you will join the meeting as soon as they admit you.'),
          h('p', { class: 'muted' }, `Meeting: ${this.topic}`),
          h('button', { type: 'button', class: 'btn', onclick: () => this.leave() }, 'Leave'))));
    const heading = this.view.root.querySelector('h1');
    heading.tabIndex = -1;
    heading.focus();
  }

  #renderMeeting() {
    if (this.mode === 'meeting') return;
    this.mode = 'meeting';
    document.title = titled(this.topic);
    const control = (testid, onclick) => h('button', { type: 'button', class: 'ctl', 'data-testid': testid, onclick });
    this.ctl = {
      mic: control('mic-toggle', () => this.setMic(!this.micOn)),
      cam: control('camera-toggle', () => this.setCam(!this.camOn)),
      screen: control('screen-toggle', () => this.toggleScreen()),
      chat: control('chat-toggle', () => this.#togglePanel('chat')),
      people: control('participants-toggle', () => this.#togglePanel('people')),
      leave: control('leave-button', () => this.leave()),
      end: control('end-button', () => this.#confirmEnd()),
    };
    setControl(this.ctl.chat, 'chat', 'Chat');
    this.unreadBadge = h('span', { class: 'ctl-badge', hidden: true });
    this.ctl.chat.append(this.unreadBadge);
    setControl(this.ctl.people, 'people', 'People');
    this.lobbyBadge = h('span', { class: 'ctl-badge', hidden: true });
    this.ctl.people.append(this.lobbyBadge);
    setControl(this.ctl.leave, 'leave', 'Leave');
    this.ctl.leave.classList.add('ctl-leave');
    setControl(this.ctl.end, 'close', 'End for all');
    this.ctl.end.classList.add('ctl-end');
    for (const b of [this.ctl.chat, this.ctl.people]) b.setAttribute('aria-expanded', 'false');

    this.lockBadge = h('span', { class: 'badge', hidden: !this.locked }, icon('lock'), 'Locked');
    this.clock = h('span', { class: 'badge clock', hidden: true });
    const invite = this.params.inviteURL && h('button', {
      type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': 'copy-link',
      onclick: async () => toast(await copyText(this.params.inviteURL) ? 'Invite link copied.' : `Invite link: ${this.params.inviteURL}`),
    }, icon('copy'), h('span', null, 'Copy invite link'));

    this.inviteCard = this.#inviteCard();
    const root = h('section', { class: 'meeting', 'data-testid': 'meeting', 'aria-label': `Meeting: ${this.topic}` },
      h('header', { class: 'meeting-bar' },
        h('div', { class: 'meeting-title' }, h('h1', null, this.topic), this.lockBadge),
        h('div', { class: 'meeting-meta' }, this.clock, invite, this.quality.el)),
      this.notices,
      h('div', { class: 'meeting-body' },
        h('main', { id: 'main', class: 'meeting-main' }, this.stage.el, this.inviteCard), this.chat.el, this.peoplePanel.el),
      h('div', { class: 'controls', role: 'group', 'aria-label': 'Meeting controls' },
        h('div', { class: 'controls-group' }, this.ctl.mic, this.ctl.cam, this.ctl.screen),
        h('div', { class: 'controls-group' }, this.ctl.chat, this.ctl.people),
        this.endGroup = h('div', { class: 'controls-group' }, this.ctl.leave)),
      this.audio.el);
    root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.panel) this.#openPanel(null);
    });
    this.view.root.replaceChildren(root);
    this.quality.start(() => this.session?.peers ?? {});
    this.#startClock();
  }

  // inviteCard tells a host who is alone how to bring people in: the join link, to copy,
  // and the meeting id with its passcode, when the host's ticket told them.
  #inviteCard() {
    const url = this.params.inviteURL;
    if (!url) return null;
    const m = this.params.ticket.meeting ?? {};
    const input = h('input', { type: 'text', readonly: true, value: url, class: 'invite-url', 'data-testid': 'invite-url', 'aria-label': 'Invite link' });
    input.addEventListener('focus', () => input.select());
    const copy = h('button', {
      type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'invite-copy',
      onclick: async () => toast(await copyText(url, input) ? 'Invite link copied. Paste it into an email or a chat.' : 'Select the link and copy it.'),
    }, icon('copy'), 'Copy link');
    return h('section', { class: 'invite-card', 'data-testid': 'invite-card', 'aria-labelledby': 'invite-card-title', hidden: true },
      h('h2', { id: 'invite-card-title' }, 'You are the only one here'),
      h('p', null, 'Send this link to the people you want to meet. It lets them in without a passcode.'),
      h('div', { class: 'invite-row' }, input, copy),
      m.display_id && h('p', { class: 'hint', 'data-testid': 'invite-passcode' },
        `Joining by meeting ID instead: ${m.display_id}`, m.passcode ? `, passcode ${groupPasscode(m.passcode)}` : ', no passcode needed', '.'));
  }

  #refreshControls() {
    if (this.mode !== 'meeting') return;
    const { mic, cam, screen, end } = this.ctl;
    setControl(mic, this.micOn ? 'mic' : 'micOff', this.micOn ? 'Mute' : 'Unmute', this.micOn ? 'on' : 'off');
    mic.disabled = !this.mic || !this.canPublish;
    mic.title = this.mic ? '' : 'No microphone is connected';
    setControl(cam, this.camOn ? 'camera' : 'cameraOff', this.camOn ? 'Stop video' : 'Start video', this.camOn ? 'on' : 'off');
    cam.disabled = !this.cam || !this.canPublish;
    cam.title = this.cam ? '' : 'No camera is connected';
    setControl(screen, 'screen', this.screen ? 'Stop sharing' : 'Share screen', this.screen ? 'on' : 'off');
    screen.disabled = !navigator.mediaDevices?.getDisplayMedia || !this.canPublish;
    screen.title = navigator.mediaDevices?.getDisplayMedia ? '' : 'This browser cannot share the screen';
    // Only the host may end the meeting for everyone: nobody else gets the button.
    if (this.self?.role === 'host') this.endGroup.append(end);
    else end.remove();
  }

  #refreshUnread() {
    this.unreadBadge.hidden = this.unread === 0;
    this.unreadBadge.textContent = String(this.unread);
    this.ctl.chat.setAttribute('aria-label', this.unread ? `Chat, ${this.unread} unread` : 'Chat');
  }

  #togglePanel(which) {
    this.#openPanel(this.panel === which ? null : which);
  }

  #openPanel(which) {
    const was = this.panel;
    this.panel = which;
    this.chat.el.hidden = which !== 'chat';
    this.peoplePanel.el.hidden = which !== 'people';
    this.ctl.chat.setAttribute('aria-expanded', String(which === 'chat'));
    this.ctl.people.setAttribute('aria-expanded', String(which === 'people'));
    this.view.root.querySelector('.meeting')?.classList.toggle('has-panel', !!which);
    // A toast must not offer to open what is open now.
    if (which === 'chat') {
      for (const close of this.chatToasts) close();
      this.chatToasts.clear();
    } else if (which === 'people') {
      this.closeLobbyToast?.();
      this.closeLobbyToast = null;
    }
    if (which === 'chat') {
      this.unread = 0;
      this.#refreshUnread();
      this.chat.focus();
    } else if (!which && was) {
      (was === 'chat' ? this.ctl.chat : this.ctl.people).focus();
    }
  }

  #isModerator() {
    return this.self?.role === 'host' || this.self?.role === 'cohost';
  }

  // mediaOf tells whether a participant's microphone and camera are on: for others, from
  // their published tracks and the node's mute state.
  #mediaOf(id) {
    if (id === this.self?.id) return { mic: this.micOn, cam: this.camOn };
    const state = { mic: false, cam: false };
    for (const t of this.tracks.values()) {
      if (t.participantId !== id || t.muted) continue;
      if (t.source === 'microphone') state.mic = true;
      if (t.source === 'camera') state.cam = true;
    }
    return state;
  }

  #refreshPerson(id) {
    if (!id || this.mode !== 'meeting') return;
    this.stage.setState(id, this.#mediaOf(id));
    this.#renderPeople();
  }

  #renderPeople() {
    if (!this.self) return;
    const people = [this.self, ...this.people.values()].map((info) => ({ info, ...this.#mediaOf(info.id) }));
    this.peoplePanel.render({ self: this.self, people, lobby: this.lobby, locked: this.locked });
    if (this.inviteCard) this.inviteCard.hidden = this.people.size > 0 || !this.#isModerator();
    const waiting = this.#isModerator() ? this.lobby.length : 0;
    this.lobbyBadge.hidden = waiting === 0;
    this.lobbyBadge.textContent = String(waiting);
    this.ctl.people.setAttribute('aria-label', waiting ? `People, ${waiting} waiting to join` : 'People');
  }

  #moderate(action, id) {
    this.session?.send(MODERATION[action](id));
  }

  #soundBlocked() {
    if (this.notices.querySelector('[data-testid=enable-sound]')) return;
    const button = h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'enable-sound' },
      icon('volume'), 'Turn on sound');
    const notice = h('div', { class: 'notice' }, h('span', null, 'Your browser is holding back the meeting’s sound.'), button);
    button.addEventListener('click', () => this.audio.resume().then(() => notice.remove(), () => {}));
    this.notices.append(notice);
  }

  // startClock shows the time left before the meeting's time limit, if it has one.
  #startClock() {
    const endsAt = this.ticket?.ends_at ? new Date(this.ticket.ends_at) : null;
    if (!endsAt) return;
    const tick = () => {
      const minutes = Math.max(0, Math.ceil((endsAt - Date.now()) / 60_000));
      this.clock.hidden = false;
      this.clock.textContent = `${minutes} min left`;
      this.clock.classList.toggle('warn', minutes <= 5);
    };
    tick();
    clearInterval(this.clockTimer);
    this.clockTimer = setInterval(tick, 15_000);
  }
}

// setControl sets a control button's icon, label and state (data-state="on|off").
function setControl(button, iconName, label, state) {
  const badge = button.querySelector('.ctl-badge');
  button.replaceChildren(icon(iconName), h('span', { class: 'ctl-label' }, label), ...(badge ? [badge] : []));
  if (state) button.dataset.state = state;
}
