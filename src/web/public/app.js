// ReadFlow's web page: sign-in, routing (#/inbox, #/tasks/<id>, #/manage/<tab>), the header.
import { api, ApiError, onUnauthorized, session } from './api.js';
import { announce, el, replace, viewHeading } from './dom.js';
import { renderInbox } from './inbox.js';
import { renderManage } from './manage.js';
import { renderTask } from './task.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

/** `{ id, displayName, role, senior }` of the signed-in caller (GET /api/v1/me). */
let profile = null;
/** Teardown of the current view (abort fetches, revoke object URLs). */
let cleanup = null;

export function isManager(p) {
  return !!p && (p.role === 'manager' || p.role === 'admin');
}

function navigate(hash, { replaceEntry = false } = {}) {
  if (replaceEntry) {
    window.history.replaceState(null, '', hash);
    route();
  } else if (window.location.hash === hash) {
    route();
  } else {
    window.location.hash = hash;
  }
}

function updateChrome(current) {
  const signedIn = !!profile;
  nav.hidden = !signedIn;
  who.hidden = !signedIn;
  if (!signedIn) return;
  const links = [['inbox', '#/inbox', 'Inbox']];
  if (isManager(profile)) links.push(['manage', '#/manage/overdue', 'Manage']);
  replace(
    nav,
    ...links.map(([key, href, text]) =>
      el('a', { href, 'aria-current': key === current ? 'page' : undefined }, text),
    ),
  );
  replace(
    document.getElementById('who-name'),
    el('span', { class: 'who-name' }, profile.displayName),
    ' ',
    el('span', { class: 'who-role' }, `${profile.role}${profile.senior ? ', senior' : ''}`),
  );
}

function showSignIn(message) {
  updateChrome();
  document.title = 'Sign in · ReadFlow';
  const input = el('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-help signin-error',
  });
  const error = el('p', { id: 'signin-error', class: 'form-error', role: 'alert' }, message || '');
  const button = el('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = el(
    'form',
    { class: 'signin-form', novalidate: true },
    el('label', { for: 'token' }, 'API token'),
    input,
    el(
      'p',
      { id: 'token-help', class: 'hint' },
      'Paste the bearer token you were given (it starts with rf_). It is kept for this browser tab only.',
    ),
    error,
    button,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = 'Paste your API token first.';
      input.focus();
      return;
    }
    button.disabled = true;
    error.textContent = '';
    try {
      const me = await api('/me', { token });
      session.set(token);
      profile = me;
      // Managers and admins: the Temporal UI in this browser may decode payloads through ReadFlow (HttpOnly cookie).
      if (isManager(me)) api('/temporal-codec/session', { method: 'POST', token }).catch(() => {});
      announce(`Signed in as ${me.displayName}`);
      navigate(defaultHash(), { replaceEntry: true });
    } catch (e) {
      error.textContent =
        e instanceof ApiError && e.status === 401
          ? 'This token is unknown or revoked.'
          : `Sign-in failed: ${e.message}`;
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  replace(main, el('section', { class: 'card signin' }, viewHeading('Sign in to ReadFlow'), form));
  input.focus();
}

function signOut(message) {
  cleanup?.();
  cleanup = null;
  if (isManager(profile)) api('/temporal-codec/session', { method: 'DELETE' }).catch(() => {});
  session.clear();
  profile = null;
  window.history.replaceState(null, '', window.location.pathname);
  showSignIn(message);
  announce(message || 'Signed out');
}

function defaultHash() {
  return isManager(profile) ? '#/manage/overdue' : '#/inbox';
}

function route() {
  cleanup?.();
  cleanup = null;
  if (!session.token || !profile) {
    showSignIn();
    return;
  }
  const raw = window.location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const ctx = {
    main,
    profile,
    params: new URLSearchParams(query),
    navigate,
    onCleanup(fn) {
      const previous = cleanup;
      cleanup = () => {
        previous?.();
        fn();
      };
    },
  };
  if (parts[0] === 'tasks' && parts[1]) {
    updateChrome('inbox');
    settle(renderTask(ctx, parts[1]));
  } else if (parts[0] === 'manage' && isManager(profile)) {
    updateChrome('manage');
    settle(renderManage(ctx, parts[1] || 'overdue'));
  } else if (parts[0] === 'inbox') {
    updateChrome('inbox');
    settle(renderInbox(ctx, ctx.params.get('status') || 'open'));
  } else {
    navigate(defaultHash(), { replaceEntry: true });
  }
}

/**
 * A view's rendering: a view left before it finished (the reader moved on, Refresh, sign-out) aborts its requests, and
 * that rejection is the view's cleanup, not an error. Anything else stays an error of the page.
 */
function settle(rendering) {
  rendering.catch((e) => {
    if (!(e && e.name === 'AbortError')) throw e;
  });
}

async function boot() {
  onUnauthorized(() => signOut('Your session has ended: the token is unknown or revoked. Sign in again.'));
  document.getElementById('sign-out').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', route);
  if (session.token) {
    try {
      profile = await api('/me');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        showSignIn(`ReadFlow did not answer: ${e.message}`);
        return;
      }
    }
  }
  route();
}

void boot();
