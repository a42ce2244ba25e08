// dom.js: building elements without HTML strings. Text always goes in as text nodes, so
// names and chat messages from other people can never become markup.

// Set as DOM properties rather than attributes: these have no attribute, or their
// attribute only gives the initial value. (value, checked and selected stay attributes:
// they are the defaults a form's reset() returns to.)
const PROPS = new Set(['muted', 'autoplay', 'srcObject', 'disabled', 'hidden']);

/**
 * h creates an element. props: "class", "dataset" (object), "on<event>" (listener),
 * the properties in PROPS, anything else as an attribute (true = present, false/null = absent).
 * children: nodes, strings (as text), or nested arrays; null and false are skipped.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (PROPS.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const SVG = 'http://www.w3.org/2000/svg';

// Icon outlines, 24x24, stroked (after the Feather icon set's style).
const ICONS = {
  mic: [['path', { d: 'M12 2a3 3 0 0 0-3 3v7a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3z' }], ['path', { d: 'M19 10v2a7 7 0 0 1-14 0v-2M12 19v3M8 22h8' }]],
  micOff: [['path', { d: 'M2 2l20 20M9 9v3a3 3 0 0 0 5.1 2.1M15 9.3V5a3 3 0 0 0-5.9-.6' }], ['path', { d: 'M17 16.9A7 7 0 0 1 5 12v-2m14 0v2a7 7 0 0 1-.1 1.2M12 19v3M8 22h8' }]],
  camera: [['path', { d: 'M23 7l-7 5 7 5V7z' }], ['rect', { x: 1, y: 5, width: 15, height: 14, rx: 2 }]],
  cameraOff: [['path', { d: 'M16 16v1a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2h2m5.7 0H14a2 2 0 0 1 2 2v3.3l1 1L23 7v10M1 1l22 22' }]],
  screen: [['rect', { x: 2, y: 3, width: 20, height: 14, rx: 2 }], ['path', { d: 'M8 21h8M12 17v4' }]],
  chat: [['path', { d: 'M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z' }]],
  people: [['path', { d: 'M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2M23 21v-2a4 4 0 0 0-3-3.9M16 3.1a4 4 0 0 1 0 7.8' }], ['circle', { cx: 9, cy: 7, r: 4 }]],
  leave: [['path', { d: 'M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9' }]],
  lock: [['rect', { x: 3, y: 11, width: 18, height: 11, rx: 2 }], ['path', { d: 'M7 11V7a5 5 0 0 1 10 0v4' }]],
  unlock: [['rect', { x: 3, y: 11, width: 18, height: 11, rx: 2 }], ['path', { d: 'M7 11V7a5 5 0 0 1 9.9-1' }]],
  copy: [['rect', { x: 9, y: 9, width: 13, height: 13, rx: 2 }], ['path', { d: 'M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1' }]],
  send: [['path', { d: 'M22 2L11 13M22 2l-7 20-4-9-9-4 20-7z' }]],
  close: [['path', { d: 'M18 6L6 18M6 6l12 12' }]],
  plus: [['path', { d: 'M12 5v14M5 12h14' }]],
  calendar: [['rect', { x: 3, y: 4, width: 18, height: 18, rx: 2 }], ['path', { d: 'M16 2v4M8 2v4M3 10h18' }]],
  volume: [['path', { d: 'M11 5L6 9H2v6h4l5 4V5zM19.1 4.9a10 10 0 0 1 0 14.2M15.5 8.5a5 5 0 0 1 0 7' }]],
};

/** icon returns a decorative SVG icon (hidden from assistive technology: its button has a label). */
export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', width: 20, height: 20, fill: 'none', stroke: 'currentColor',
    'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true', focusable: 'false', class: 'icon' })) {
    svg.setAttribute(k, v);
  }
  for (const [tag, attrs] of ICONS[name]) {
    const shape = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) shape.setAttribute(k, v);
    svg.append(shape);
  }
  return svg;
}

/** initials of a display name, for the avatar shown when there is no video. */
export function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((w) => Array.from(w)[0]).join('').toUpperCase() || '?';
}

/**
 * groupPasscode shows a passcode in groups of four (7KXM-3PAH-NTWC), to read out and type
 * a piece at a time. The server ignores the dashes (and case) when it compares.
 */
export function groupPasscode(passcode) {
  return String(passcode ?? '').match(/.{1,4}/g)?.join('-') ?? '';
}

/** toast shows a short message in the page's live region for a few seconds. */
export function toast(message, { action, timeout = 6000, tone = 'info' } = {}) {
  const box = document.getElementById('toasts');
  const close = () => el.remove();
  const el = h('div', { class: `toast toast-${tone}` },
    h('span', { class: 'toast-text' }, message),
    action && h('button', { type: 'button', class: 'btn btn-small', onclick: () => { close(); action.run(); } }, action.label),
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Dismiss', onclick: close }, icon('close')));
  box.append(el);
  if (timeout) setTimeout(close, timeout);
  return close;
}

/**
 * copyText copies text to the clipboard. Where the asynchronous clipboard is refused
 * (plain http on another host than localhost, some embedded browsers) it falls back to
 * copying from a field: the given one, or a hidden one made for the purpose.
 */
export async function copyText(text, field) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const el = field ?? h('textarea', { readonly: true, class: 'sr-only', 'aria-hidden': 'true' }, text);
    if (!field) document.body.append(el);
    el.select();
    const copied = document.execCommand('copy');
    if (!field) el.remove();
    return copied;
  }
}
