// api.js: the REST client (api/openapi.yaml). Calls resolve to the parsed JSON body, or
// reject with an ApiError carrying the server's stable code, which errors.js turns into
// words. A session cookie authenticates; state-changing calls also send the session's
// CSRF token, which the server hands out at sign-in and sign-up.

const CSRF_HEADER = 'X-CSRF-Token';
// The token survives reloads and other tabs in localStorage: the session cookie does too,
// and the token is no secret from the page's own script.
const CSRF_KEY = 'meridian.csrf';

class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0, data = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from Retry-After (rate_limited)
    // A refusal by the jurisdiction policy carries its rule and what to do instead
    // (PolicyRefusal in api/openapi.yaml); policyerror.js says it in words.
    this.policy = data?.rule_id ? data : null;
    // A policy document that does not load: each problem with its file and line.
    this.problems = Array.isArray(data?.errors) ? data.errors : null;
  }
}

// YamlBody marks a request body sent as YAML text, not JSON.
class YamlBody {
  constructor(text) {
    this.text = text;
  }
}

function csrfToken() {
  return localStorage.getItem(CSRF_KEY) || '';
}

function rememberCsrf(token) {
  if (token) localStorage.setItem(CSRF_KEY, token);
  else localStorage.removeItem(CSRF_KEY);
}

async function request(method, path, body, retried = false, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...extraHeaders };
  // A policy document goes as it is (YAML); everything else as JSON.
  const raw = body instanceof YamlBody;
  if (body !== undefined) headers['Content-Type'] = raw ? 'application/yaml' : 'application/json';
  if (method !== 'GET' && csrfToken()) headers[CSRF_HEADER] = csrfToken();
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : raw ? body.text : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'could not reach the server');
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (data?.code === 'csrf_failed' && !retried && method !== 'GET') {
    // The stored token may be stale (another tab signed in again) or lost with the
    // browser's storage: the session hands it out again with /api/me. Try once more.
    await request('GET', '/api/me').catch(() => null);
    return request(method, path, body, true, extraHeaders);
  }
  if (!res.ok) {
    throw new ApiError(res.status, data?.code || `http_${res.status}`, data?.message || res.statusText,
      Number(res.headers.get('Retry-After')) || 0, data);
  }
  if (typeof data?.csrf_token === 'string') rememberCsrf(data.csrf_token);
  return data;
}

// The signed-in user, loaded once per page load and kept while it lasts.
let me;

/** currentUser resolves to {user, account} of the session, or null when signed out. */
export async function currentUser() {
  if (me !== undefined) return me;
  try {
    const data = await request('GET', '/api/me');
    me = data.user ? { user: data.user, account: data.account, operator: data.operator === true, support: data.support ?? null } : null;
  } catch (err) {
    if (err.status !== 401) throw err;
    me = null;
  }
  return me;
}

function signedIn(session) {
  // Forget who was signed in: the next page asks /api/me, which also says whether the
  // user is an operator (the session's reply does not).
  me = undefined;
  return session;
}

export const api = {
  signUp: (body) => request('POST', '/api/signup', body).then(signedIn),
  signIn: (email, password) => request('POST', '/api/signin', { email, password }).then(signedIn),
  async signOut() {
    try {
      await request('POST', '/api/signout');
    } finally {
      me = null;
      rememberCsrf('');
    }
  },
  changePassword: (current, next) => request('POST', '/api/password', { current_password: current, new_password: next }),
  requestReset: (email) => request('POST', '/api/password/reset', { email }),
  confirmReset: (token, password) => request('POST', '/api/password/reset/confirm', { token, new_password: password }),

  /** regions lists the deployment's regions, for anyone (GET /api/regions). */
  regions: () => request('GET', '/api/regions'),
  accountRegions: () => request('GET', '/api/account/regions'),
  /** setAccountRegions: {allowed: [ids], acknowledge_opt_in: [ids of opt-in regions whose warning was accepted]}. */
  setAccountRegions: (body) => request('PUT', '/api/account/regions', body),
  /** accountEntry: the account's entry by country (GET /api/account/entry). */
  accountEntry: () => request('GET', '/api/account/entry'),
  /** setAccountEntry: {mode: 'off' | 'allow_list' | 'block_list', countries: [ISO codes]}. */
  setAccountEntry: (body) => request('PUT', '/api/account/entry', body),

  // A business account's members and invitations (members.js).
  listMembers: () => request('GET', '/api/account/members').then((d) => d.members),
  listInvites: () => request('GET', '/api/account/invites').then((d) => d.invites),
  invite: (email, role) => request('POST', '/api/account/invites', { email, role }),
  revokeInvite: (id) => request('DELETE', `/api/account/invites/${encodeURIComponent(id)}`),
  setMemberRole: (id, role) => request('PATCH', `/api/account/members/${encodeURIComponent(id)}`, { role }),
  removeMember: (id) => request('DELETE', `/api/account/members/${encodeURIComponent(id)}`),
  /** transferOwnership makes the member the owner; the signed-in owner becomes an admin. */
  transferOwnership: (userId, password) => request('POST', '/api/account/owner', { user_id: userId, password }).then(() => {
    me = undefined; // our own role changed
  }),
  /** lookupInvite tells an invitation's account_name, email, role, invited_by and expires_at. */
  lookupInvite: (token) => request('POST', '/api/invites/lookup', { token }),
  acceptInvite: (token, displayName, password) =>
    request('POST', '/api/invites/accept', { token, display_name: displayName, password }).then(signedIn),

  listKeys: () => request('GET', '/api/keys').then((d) => d.keys),
  createKey: (name, scopes) => request('POST', '/api/keys', { name, scopes }),
  revokeKey: (id) => request('DELETE', `/api/keys/${encodeURIComponent(id)}`),

  listMeetings: () => request('GET', '/api/meetings').then((d) => d.meetings),
  scheduleMeeting: (body) => request('POST', '/api/meetings', body),
  startMeeting: (id) => request('POST', `/api/meetings/${encodeURIComponent(id)}/start`),
  /** updateMeeting changes the fields given of a meeting that has not taken place. */
  updateMeeting: (id, body) => request('PATCH', `/api/meetings/${encodeURIComponent(id)}`, body),
  cancelMeeting: (id) => request('POST', `/api/meetings/${encodeURIComponent(id)}/cancel`),
  /** lookup tells an invitation's topic, host_name, status and starts_at: {link_token} or {meeting_id, passcode}. */
  lookup: (body) => request('POST', '/api/join/lookup', body),
  /** join asks for a ticket: {meeting_id, passcode} or {link_token}, and display_name. */
  join: (body) => request('POST', '/api/join', body),

  /** brand is the brand of this site's host: name, logo, colours, support (public). */
  brand: () => request('GET', '/api/brand'),

  // The policy console's calls (operators only).
  getPolicy: () => request('GET', '/api/policy'),
  validatePolicy: (yaml) => request('POST', '/api/policy/validate', new YamlBody(yaml)),
  stagePolicy: (yaml) => request('POST', '/api/policy/stage', new YamlBody(yaml)),
  activatePolicy: () => request('POST', '/api/policy/activate'),
  /** dryRunPolicy reports what the staged policy would change at `at` (an ISO time). */
  dryRunPolicy: (at) => request('POST', '/api/policy/dry-run', at ? { at } : {}),

  // The operator console's sales calls (operators only).
  listPartners: () => request('GET', '/api/operator/partners').then((d) => d.partners),
  putPartner: (id, body) => request('PUT', `/api/operator/partners/${encodeURIComponent(id)}`, body),
  listPriceBooks: () => request('GET', '/api/operator/price-books').then((d) => d.price_books),
  putPriceBook: (channel, currency, prices) =>
    request('PUT', `/api/operator/price-books/${encodeURIComponent(channel)}/${encodeURIComponent(currency)}`, { prices }),
  listAllSubscriptions: (channel) => request('GET', `/api/operator/subscriptions${channel ? `?channel=${encodeURIComponent(channel)}` : ''}`).then((d) => d.subscriptions),
  listAllOrders: (channel) => request('GET', `/api/operator/orders${channel ? `?channel=${encodeURIComponent(channel)}` : ''}`).then((d) => d.orders),
  // Plans and billing (billing.js).
  /** plans is the price book of the account's channel; its payments says whether this server takes payments online. */
  plans: (currency) => request('GET', currency ? `/api/plans?currency=${encodeURIComponent(currency)}` : '/api/plans'),
  /** checkout buys (kind new), upgrades or renews; key is the attempt's Idempotency-Key. */
  checkout: (body, key) => request('POST', '/api/checkout', body, false, { 'Idempotency-Key': key }).then((receipt) => {
    me = undefined; // the account's plan has changed
    return receipt;
  }),
  /** subscription is {subscription (or null), support}: the current subscription and who supports the account. */
  subscription: () => request('GET', '/api/subscription'),
  invoices: () => request('GET', '/api/invoices').then((d) => d.invoices),
  /** policyDecisions lists the decision log, newest first: {rule, jurisdiction, outcome, limit}. */
  policyDecisions: (filter) => {
    const q = new URLSearchParams(Object.entries(filter ?? {}).filter(([, v]) => v));
    return request('GET', `/api/policy/decisions${q.size ? `?${q}` : ''}`);
  },
};
