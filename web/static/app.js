// app.js: the browser app's entry point. It maps the page routes (which the server
// answers with this same page, see internal/httpapi/web.go) to their views.

import { resetPasswordPage, signInPage, signUpPage } from './auth.js';
import { loadBrand } from './brand.js';
import { consolePage } from './console.js';
import { dashboardPage } from './dashboard.js';
import { homePage } from './home.js';
import { joinByIdPage, joinByLinkPage } from './join.js';
import { notFoundPage } from './layout.js';
import { acceptInvitePage } from './members.js';
import { start } from './router.js';
import { settingsPage } from './settings.js';

await loadBrand();
start([
  [/^\/$/, homePage],
  [/^\/signup$/, signUpPage],
  [/^\/signin$/, signInPage],
  [/^\/dashboard$/, dashboardPage],
  [/^\/settings$/, settingsPage],
  [/^\/join$/, joinByIdPage],
  [/^\/j\/([^/]+)$/, joinByLinkPage],
  [/^\/reset-password$/, resetPasswordPage],
  [/^\/console$/, consolePage],
  [/^\/accept-invite$/, acceptInvitePage],
], notFoundPage);
