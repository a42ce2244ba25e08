// panels.js: the side panels of a meeting: chat, and people (with the waiting room and
// the host's controls).

import { h, icon, initials } from './dom.js';
import { roleName } from './tiles.js';

const MAX_CHAT_BYTES = 4096; // the node's limit (docs/protocol.md, Chat)

let panelCount = 0;

// panel is the frame of a side panel: a titled region with a close button.
function panel(title, onClose, ...content) {
  const id = `panel-title-${++panelCount}`;
  const heading = h('h2', { id }, title);
  const el = h('aside', { class: 'panel', 'aria-labelledby': id, hidden: true },
    h('div', { class: 'panel-head' }, heading,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Close ${title.toLowerCase()}`, onclick: onClose }, icon('close'))),
    content);
  return { el, heading };
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });

export class ChatPanel {
  #log = h('ol', { class: 'chat-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  #empty = h('p', { class: 'muted chat-empty' },
    'Messages go to everyone in the meeting. People who join later do not see earlier messages.');
  #input = h('input', {
    type: 'text', id: 'chat-input', 'data-testid': 'chat-input', autocomplete: 'off',
    placeholder: 'Message everyone', 'aria-label': 'Message to everyone',
  });
  #note = h('p', { class: 'chat-note', role: 'status' });

  /** onSend(text) sends a message; onClose closes the panel. */
  constructor({ onSend, onClose }) {
    const form = h('form', { class: 'chat-form' }, this.#input,
      h('button', { type: 'submit', class: 'icon-btn send', 'data-testid': 'chat-send', 'aria-label': 'Send message' }, icon('send')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.#input.value.trim();
      if (!text) return;
      if (new TextEncoder().encode(text).length > MAX_CHAT_BYTES) {
        this.#note.textContent = 'This message is too long to send. Shorten it or split it in two.';
        return;
      }
      this.#note.textContent = '';
      onSend(text);
      this.#input.value = '';
    });
    ({ el: this.el } = panel('Chat', onClose, this.#empty, this.#log, this.#note, form));
  }

  /** add shows a chat message; selfId marks our own. */
  add({ from, text, at }, selfId) {
    this.#empty.remove();
    const mine = from?.id === selfId;
    const when = at ? new Date(at) : new Date();
    const stick = this.#log.scrollHeight - this.#log.scrollTop - this.#log.clientHeight < 40;
    this.#log.append(h('li', { class: `chat-message${mine ? ' mine' : ''}`, 'data-testid': 'chat-message' },
      h('div', { class: 'chat-meta' },
        h('span', { class: 'chat-from' }, mine ? 'You' : (from?.name || from?.identity || 'Guest')),
        h('time', { datetime: when.toISOString() }, timeFormat.format(when))),
      h('p', { class: 'chat-text' }, text)));
    if (stick || mine) this.#log.scrollTop = this.#log.scrollHeight;
  }

  focus() {
    this.#input.focus();
  }
}

/**
 * PeoplePanel lists the participants and, for moderators (host and co-hosts), the
 * waiting room and the host controls. Its buttons call onAction(action, participantId).
 */
export class PeoplePanel {
  #heading;
  #tools = h('div', { class: 'host-tools' });
  #lobby = h('section', { class: 'lobby', 'aria-label': 'Waiting room' });
  #list = h('ul', { class: 'people-list' });

  constructor({ onAction, onClose }) {
    this.onAction = onAction;
    ({ el: this.el, heading: this.#heading } = panel('People', onClose, this.#tools, this.#lobby, this.#list));
  }

  /**
   * render draws the panel from the meeting's state: self (own participant), people
   * ([{info, mic, cam}], self first), lobby ([participant]), locked.
   */
  render({ self, people, lobby, locked }) {
    const focused = this.#focusedAction();
    const moderator = self.role === 'host' || self.role === 'cohost';
    this.#heading.textContent = `People (${people.length})`;
    this.#tools.replaceChildren(...(moderator ? this.#hostTools(locked) : []));
    this.#lobby.replaceChildren(...(moderator && lobby.length ? this.#lobbyEntries(lobby) : []));
    this.#lobby.hidden = !(moderator && lobby.length);
    this.#list.replaceChildren(...people.map((p) => this.#entry(p, self)));
    this.#restoreFocus(focused);
  }

  #hostTools(locked) {
    return [
      this.#button('Mute everyone', { 'data-testid': 'mute-all' }, () => this.onAction('muteAll')),
      this.#button(locked ? 'Unlock meeting' : 'Lock meeting',
        { 'data-testid': 'lock-toggle', 'aria-pressed': String(locked) }, () => this.onAction(locked ? 'unlock' : 'lock'),
        locked ? 'lock' : 'unlock'),
      h('p', { class: 'hint' }, locked ? 'Locked: nobody new can join.' : 'Lock the meeting to stop anyone new from joining.'),
    ];
  }

  #lobbyEntries(lobby) {
    return [
      h('div', { class: 'lobby-head' },
        h('h3', null, `Waiting to join (${lobby.length})`),
        this.#button('Admit all', { 'data-testid': 'admit-all', class: 'btn btn-small btn-primary' }, () => this.onAction('admitAll'))),
      h('ul', { class: 'people-list' }, lobby.map((p) => {
        const name = p.name || p.identity || 'Guest';
        return h('li', { class: 'person', 'data-testid': 'lobby-entry', dataset: { participantId: p.id } },
          avatar(p), h('span', { class: 'person-name' }, name),
          h('span', { class: 'person-actions' },
            this.#button('Admit', { 'data-action': 'admit', 'aria-label': `Admit ${name}`, class: 'btn btn-small btn-primary' },
              () => this.onAction('admit', p.id)),
            this.#button('Deny', { 'data-action': 'deny', 'aria-label': `Deny ${name}`, class: 'btn btn-small' },
              () => this.onAction('deny', p.id))));
      })),
    ];
  }

  #entry({ info, mic, cam }, self) {
    const isSelf = info.id === self.id;
    const name = info.name || info.identity || 'Guest';
    const role = roleName(info.role);
    return h('li', { class: 'person', 'data-testid': 'participant', dataset: { participantId: info.id } },
      avatar(info),
      h('span', { class: 'person-name' }, name, isSelf && h('span', { class: 'muted' }, ' (you)'),
        role && h('span', { class: 'badge' }, role)),
      h('span', { class: 'person-media' },
        h('span', { class: mic ? 'on' : 'off', title: mic ? 'Microphone on' : 'Microphone off' }, icon(mic ? 'mic' : 'micOff'),
          h('span', { class: 'sr-only' }, mic ? 'microphone on' : 'microphone off')),
        h('span', { class: cam ? 'on' : 'off', title: cam ? 'Camera on' : 'Camera off' }, icon(cam ? 'camera' : 'cameraOff'),
          h('span', { class: 'sr-only' }, cam ? 'camera on' : 'camera off'))),
      !isSelf && this.#moderation(info, name, self));
  }

  // moderation are the host controls for one participant: a co-host may act on anyone
  // but the host; only the host names co-hosts.
  #moderation(info, name, self) {
    const moderator = self.role === 'host' || self.role === 'cohost';
    if (!moderator || (self.role === 'cohost' && info.role === 'host')) return null;
    const small = (label, action, ariaLabel, cls = 'btn btn-small') =>
      this.#button(label, { 'data-action': action, 'aria-label': ariaLabel, class: cls }, () => this.onAction(action, info.id));
    return h('span', { class: 'person-actions' },
      small('Mute', 'mute', `Mute ${name}`),
      small('Stop video', 'stop-video', `Stop video: ${name}`),
      self.role === 'host' && (info.role === 'cohost'
        ? small('Remove co-host', 'remove-cohost', `Remove co-host: ${name}`)
        : small('Make co-host', 'make-cohost', `Make co-host: ${name}`)),
      small('Remove', 'remove', `Remove ${name}`, 'btn btn-small btn-danger-quiet'));
  }

  #button(label, attrs, onclick, iconName) {
    return h('button', { type: 'button', class: 'btn btn-small', ...attrs, onclick }, iconName && icon(iconName), label);
  }

  // A re-render replaces the buttons; keep keyboard focus on the same one.
  #focusedAction() {
    const el = document.activeElement;
    if (!this.el.contains(el)) return null;
    return { id: el.closest('[data-participant-id]')?.dataset.participantId, action: el.dataset.action, testid: el.dataset.testid };
  }

  #restoreFocus(f) {
    if (!f) return;
    const sel = f.action
      ? `[data-participant-id="${CSS.escape(f.id ?? '')}"] [data-action="${CSS.escape(f.action)}"]`
      : f.testid && `[data-testid="${CSS.escape(f.testid)}"]`;
    (sel && this.el.querySelector(sel))?.focus();
  }
}

function avatar(p) {
  return h('span', { class: 'person-avatar', 'aria-hidden': 'true' }, initials(p.name || p.identity));
}
