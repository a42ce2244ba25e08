// tiles.js: the stage of a meeting: one tile per participant (camera video, or their
// initials when there is none), a tile per screen share, and the <audio> elements that
// play everyone's sound.

import { h, icon, initials } from './dom.js';

const ROLE_NAMES = { host: 'Host', cohost: 'Co-host' };
const HUES = 8; // avatar colours in app.css: .hue-0 to .hue-7

/** roleName is a participant's role in words ("" for none). */
export function roleName(role) {
  return ROLE_NAMES[role] ?? '';
}

function hue(id) {
  let n = 0;
  for (const c of id) n = (n * 31 + c.charCodeAt(0)) >>> 0;
  return n % HUES;
}

class Tile {
  #key = null; // which track the video shows: the node's track id, or "local"
  #on = false;
  #micOff = h('span', { class: 'tile-mic', hidden: true }, icon('micOff'));
  #name = h('span', { class: 'tile-name' });
  #role = h('span', { class: 'tile-role' });
  #avatar = h('span', { class: 'avatar-initials' });

  constructor(participant, { self, source }) {
    this.source = source;
    this.video = h('video', { autoplay: true, muted: true, playsinline: true, dataset: { source } });
    if (self && source === 'camera') this.video.classList.add('mirror');
    const data = { participantId: participant.id, source };
    if (self) data.self = 'true';
    this.el = h('div', { class: `tile tile-${source} is-off`, role: 'group', 'data-testid': 'tile', dataset: data },
    this.video,
    source === 'camera' && h('div', { class: 'tile-off', 'aria-hidden': 'true' },
      h('div', { class: `avatar hue-${hue(participant.id)}` }, this.#avatar)),
    h('div', { class: 'tile-label' }, this.#micOff, this.#name, this.#role));
    this.self = self;
    this.update(participant);
  }

  update({ name, identity, role }) {
    const shown = name || identity || 'Guest';
    const label = this.source === 'screen' ? `${shown}’s screen` : shown + (this.self ? ' (you)' : '');
    this.#name.textContent = label;
    this.#avatar.textContent = initials(shown);
    this.#role.textContent = this.source === 'camera' ? roleName(role) : '';
    this.el.setAttribute('aria-label', label);
  }

  /** show plays track (key names it) in the tile, or clears it for track null. */
  show(key, track) {
    this.#key = track ? key : null;
    this.video.srcObject = track ? new MediaStream([track]) : null;
    if (track) this.video.play().catch(() => {}); // muted video may autoplay; retried by autoplay itself
    this.#refresh();
  }

  shows(key) {
    return this.#key === key;
  }

  /** remoteKey is the node's id of the remote track the tile shows, if it shows one. */
  get remoteKey() {
    return this.#key && this.#key !== 'local' ? this.#key : null;
  }

  /** setState shows whether the microphone is on, and the camera (off: the initials). */
  setState({ mic, cam }) {
    this.#micOff.hidden = mic;
    this.#on = cam;
    this.#refresh();
  }

  #refresh() {
    this.el.classList.toggle('is-off', !(this.#key && (this.#on || this.source === 'screen')));
  }
}

export class Stage {
  #info = new Map(); // participant id -> {id, identity, name, role}
  #people = new Map(); // participant id -> camera Tile
  #screens = new Map(); // participant id -> screen Tile
  #grid = h('div', { class: 'people-grid' });
  #shares = h('div', { class: 'screens' });
  #resize = new ResizeObserver(() => this.#layout());
  #tileHeight = 0; // device pixels of a person's tile, as laid out last
  #preferred = new Map(); // track key -> the maxHeight last asked for it

  /**
   * onPreferHeight(key, maxHeight) is called when a remote camera is shown at a new size,
   * so the node can send a smaller simulcast layer to a small tile.
   */
  constructor(onPreferHeight = () => {}) {
    this.onPreferHeight = onPreferHeight;
    // Screen shares come after the people in the document, so that the first tile of a
    // participant is their camera tile; CSS shows shares first.
    this.el = h('div', { class: 'stage', role: 'region', 'aria-label': 'Participants' }, this.#grid, this.#shares);
    this.#resize.observe(this.el);
  }

  /** upsert adds a participant's tile, or updates its name and role. */
  upsert(participant, self = false) {
    this.#info.set(participant.id, participant);
    const tile = this.#people.get(participant.id);
    if (tile) {
      tile.update(participant);
      this.#screens.get(participant.id)?.update(participant);
      return;
    }
    const fresh = new Tile(participant, { self, source: 'camera' });
    this.#people.set(participant.id, fresh);
    if (self) this.#grid.prepend(fresh.el);
    else this.#grid.append(fresh.el);
    this.#layout();
  }

  remove(id) {
    this.#info.delete(id);
    this.#people.get(id)?.el.remove();
    this.#people.delete(id);
    this.#showScreen(id, null, null);
    this.#layout();
  }

  clear() {
    this.#grid.replaceChildren();
    this.#shares.replaceChildren();
    this.#info.clear();
    this.#people.clear();
    this.#screens.clear();
    this.#layout();
  }

  /** show plays a participant's video of source ("camera" or "screen"); key names the track. */
  show(id, source, key, track) {
    if (source === 'screen') this.#showScreen(id, key, track);
    else this.#people.get(id)?.show(key, track);
    this.#prefer();
  }

  // prefer asks for each remote camera at the height its tile shows it, rounded up to a
  // step of 90 pixels so that small changes of the window send nothing.
  #prefer() {
    if (!this.#tileHeight) return;
    const height = Math.ceil(this.#tileHeight / 90) * 90;
    for (const tile of this.#people.values()) {
      const key = tile.remoteKey;
      if (key && this.#preferred.get(key) !== height) {
        this.#preferred.set(key, height);
        this.onPreferHeight(key, height);
      }
    }
  }

  /** hide stops showing the track key, unless another track has replaced it since. */
  hide(id, source, key) {
    this.#preferred.delete(key);
    const tile = source === 'screen' ? this.#screens.get(id) : this.#people.get(id);
    if (tile?.shows(key)) this.show(id, source, null, null);
  }

  #showScreen(id, key, track) {
    let tile = this.#screens.get(id);
    if (!track) {
      tile?.el.remove();
      this.#screens.delete(id);
    } else {
      if (!tile) {
        tile = new Tile(this.#info.get(id) ?? { id }, { self: !!this.#people.get(id)?.self, source: 'screen' });
        this.#screens.set(id, tile);
        this.#shares.append(tile.el);
      }
      tile.show(key, track);
    }
    this.el.classList.toggle('presenting', this.#screens.size > 0);
    this.#layout();
  }

  setState(id, state) {
    this.#people.get(id)?.setState(state);
  }

  /** setSpeaking marks the tiles of the participants speaking now. */
  setSpeaking(ids) {
    for (const [id, tile] of this.#people) tile.el.classList.toggle('speaking', ids.has(id));
  }

  // layout picks the number of columns that gives people's tiles the largest 16:9 size in
  // the space the grid has, and that size (while someone presents, CSS lays them out in a
  // strip instead).
  #layout() {
    const n = Math.max(1, this.#people.size);
    const { width, height } = this.#grid.getBoundingClientRect();
    const gap = parseFloat(getComputedStyle(this.#grid).columnGap) || 0;
    let cols = 1;
    let best = 0;
    for (let c = 1; c <= n; c++) {
      const rows = Math.ceil(n / c);
      const size = Math.min((width - gap * (c - 1)) / c, ((height - gap * (rows - 1)) / rows) * 16 / 9);
      if (size > best) {
        best = size;
        cols = c;
      }
    }
    this.#grid.style.setProperty('--cols', cols);
    this.#grid.style.setProperty('--tile-width', `${Math.max(0, Math.floor(best))}px`);
    this.#tileHeight = Math.floor(best * 9 / 16 * (window.devicePixelRatio || 1));
    this.#prefer();
  }

  dispose() {
    this.#resize.disconnect();
  }
}

/**
 * AudioSink plays remote audio tracks, one <audio> element each. When the browser refuses
 * to start playback before the page was clicked, it calls onBlocked; resume() then plays
 * from a click.
 */
export class AudioSink {
  #players = new Map(); // track id -> <audio>

  constructor(onBlocked) {
    this.onBlocked = onBlocked;
    this.el = h('div', { class: 'audio-sink' });
  }

  attach(key, track, info) {
    this.detach(key);
    const audio = h('audio', { autoplay: true, dataset: { trackId: key, participantId: info.participantId, source: info.source } });
    audio.srcObject = new MediaStream([track]);
    this.#players.set(key, audio);
    this.el.append(audio);
    audio.play().catch((err) => {
      if (err.name === 'NotAllowedError') this.onBlocked();
    });
  }

  detach(key) {
    const audio = this.#players.get(key);
    if (!audio) return;
    audio.srcObject = null;
    audio.remove();
    this.#players.delete(key);
  }

  clear() {
    for (const key of [...this.#players.keys()]) this.detach(key);
  }

  /** resume starts every player; call it from a click. */
  resume() {
    return Promise.all([...this.#players.values()].map((a) => a.play()));
  }
}
