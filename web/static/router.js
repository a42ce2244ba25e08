// router.js: one view at a time in #app, chosen by location.pathname. A view is a
// function (view, params) that draws into view.root; whatever it registers with
// view.onCleanup runs when the next view replaces it (stopping a camera, leaving a call).

import { h } from './dom.js';
import { errorBox } from './errors.js';

let routes = [];
let notFound = null;
let current = null; // AbortController of the mounted view

/** mount replaces the current view with render(view, params). */
export function mount(render, params = {}) {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const root = h('div', { class: 'view' });
  document.getElementById('app').replaceChildren(root);
  document.getElementById('toasts').replaceChildren(); // they spoke of the view that went
  const view = {
    root,
    signal: controller.signal,
    onCleanup: (fn) => controller.signal.addEventListener('abort', fn, { once: true }),
    /** active tells whether this view is still on screen (an async step may outlive it). */
    active: () => !controller.signal.aborted,
  };
  Promise.resolve()
    .then(() => render(view, params))
    .then(() => focusHeading(view))
    .catch((err) => {
      console.error(err);
      if (view.active()) root.replaceChildren(h('main', { id: 'main', class: 'page narrow' }, errorBox(err)));
    });
}

// After a page change, move focus to its heading so that screen readers announce the new
// page, unless the page put focus somewhere itself.
function focusHeading(view) {
  if (!view.active() || view.root.contains(document.activeElement)) return;
  const heading = view.root.querySelector('h1');
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

/** navigate goes to a path of the app (pushing or replacing the history entry). */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function render() {
  const path = location.pathname;
  for (const [pattern, page] of routes) {
    const match = pattern.exec(path);
    if (match) {
      mount(page, { match, query: new URLSearchParams(location.search) });
      return;
    }
  }
  mount(notFound);
}

/** start routes the current location and follows in-app links and history. */
export function start(table, notFoundPage) {
  routes = table;
  notFound = notFoundPage;
  addEventListener('popstate', render);
  document.addEventListener('click', followLink);
  render();
}

// followLink keeps same-origin links inside the app instead of reloading the page.
function followLink(event) {
  const a = event.target.closest?.('a[href]');
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (a.target || a.hasAttribute('download') || a.getAttribute('href').startsWith('#')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/static/')) return;
  event.preventDefault();
  // A link to the page on screen draws it afresh (the ended screen's "Rejoin").
  const same = url.pathname === location.pathname && url.search === location.search;
  navigate(url.pathname + url.search, { replace: same });
}
