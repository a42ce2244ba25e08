// brand.js: the brand the app is shown under (GET /api/brand): the operator's own, or on a
// partner's domain the partner's name, logo, colours and support contact. It is loaded
// once, before the first page is drawn. Colours go into CSS custom properties and the
// logo into an img src, never into markup (the server checked both when the partner was
// put; they are checked again here).

import { api } from './api.js';

const COLOR = /^#[0-9a-fA-F]{6}$/;

let current = { channel: 'direct', name: 'Meridian', support: null };

/** loadBrand asks the server for the host's brand and applies its colours. */
export async function loadBrand() {
  try {
    const b = await api.brand();
    if (b && typeof b.name === 'string' && b.name) current = b;
  } catch {
    // The product's own brand: nothing hangs on it.
  }
  const root = document.documentElement;
  root.dataset.brand = current.channel;
  const primary = COLOR.test(current.primary_color ?? '') ? current.primary_color : null;
  const accent = COLOR.test(current.accent_color ?? '') ? current.accent_color : null;
  if (primary) {
    root.style.setProperty('--accent', primary);
    root.style.setProperty('--accent-strong', accent ?? primary);
    root.style.setProperty('--on-accent', luminance(primary) > 0.45 ? '#0d1420' : '#ffffff');
  }
  if (accent) root.style.setProperty('--brand-accent', accent);
  document.title = current.name;
}

// luminance is a colour's relative luminance (WCAG), to pick readable text on it.
function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** brandName is the product's name as this site shows it. */
export function brandName() {
  return current.name;
}

/** brandLogo is the logo's URL: the partner's (https), or the product's own. */
export function brandLogo() {
  return /^https:\/\//.test(current.logo_url ?? '') ? current.logo_url : '/static/favicon.svg';
}

/** titled is a page title under the brand: "Settings · Orchid Talk". */
export function titled(text) {
  return `${text} · ${current.name}`;
}

/** brandSupport is the site's support contact (signed-in users see their own in /api/me). */
export function brandSupport() {
  return current.support;
}
