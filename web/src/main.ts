/**
 * The analytics dashboard: signs in (local token or Cognito, per config.json), then shows
 * one view at a time for the picked time range, refreshing on demand or every
 * `refreshSeconds`. The page marks its state on <main> (`data-state` loading/ready/error,
 * `data-view`, `data-from`, `data-to`) for people and for the browser tests.
 */
import { ApiError, createApiClient } from '../../client/index.ts';
import { beginCognitoSignIn, cognitoLogoutUrl, completeCognitoSignIn } from './auth/cognito.ts';
import { localToken } from './auth/local.ts';
import { clearSession, storedSession, storeSession, type Session } from './auth/session.ts';
import { loadConfig, type DashboardConfig } from './config.ts';
import { h } from './dom.ts';
import { isRangeKey, ranges, timeRange, type RangeKey } from './range.ts';
import { categories, viewNames, views, type ViewContext, type ViewName } from './views.ts';

const main = document.getElementById('app')!;
const controls = document.getElementById('controls')!;
const who = document.getElementById('who')!;

function showError(message: string, action?: HTMLElement): void {
  main.dataset.state = 'error';
  main.replaceChildren(h('p', { class: 'error', role: 'alert' }, message), ...(action ? [action] : []));
}

/** Resolves with a session: the stored one, the Cognito callback's, or after the sign-in form. */
async function signIn(config: DashboardConfig): Promise<Session> {
  const stored = storedSession();
  if (stored) return stored;
  const auth = config.auth;
  if (auth.kind === 'cognito') {
    const token = await completeCognitoSignIn(auth);
    if (token) return storeSession(token);
  }
  main.dataset.state = 'sign-in';
  return new Promise<Session>((resolve) => {
    if (auth.kind === 'cognito') {
      main.replaceChildren(h('button', { 'data-control': 'sign-in', onclick: () => void beginCognitoSignIn(auth) }, 'Sign in'));
      return;
    }
    const field = (name: string, value: string) => h('label', {}, name, h('input', { name, value, required: true }));
    const form = h(
      'form',
      {
        class: 'sign-in',
        'data-form': 'local-sign-in',
        onsubmit: (event: Event) => {
          event.preventDefault();
          const data = new FormData(form);
          localToken(auth.tokenEndpoint, { user: String(data.get('user')), tenant: String(data.get('tenant')), admin: data.get('admin') === 'on' }).then(
            (token) => resolve(storeSession(token)),
            (error: unknown) => form.append(h('p', { class: 'error' }, String(error))),
          );
        },
      },
      h('p', { class: 'muted' }, 'Local stack: sign in as any user of any tenant (the local API signs you in, as npm run token does).'),
      field('user', 'alice'),
      field('tenant', 'acme'),
      h('label', {}, h('input', { type: 'checkbox', name: 'admin', checked: true }), ' admin (the analytics routes need it)'),
      h('button', { type: 'submit', 'data-control': 'sign-in' }, 'Sign in'),
    );
    main.replaceChildren(form);
  });
}

function currentView(): ViewName {
  const name = window.location.hash.slice(1);
  return Object.hasOwn(viewNames, name) ? (name as ViewName) : 'overview';
}

async function start(): Promise<void> {
  const config = await loadConfig();
  const session = await signIn(config);
  const api = createApiClient({ baseUrl: config.apiUrl, token: session.token, attempts: 3, timeoutMs: 20_000 });
  who.textContent = `tenant ${session.claims.tenant ?? '(none)'} · ${session.claims.name}${session.claims.scopes.includes('admin') ? ' (admin)' : ''}`;
  who.dataset.tenant = session.claims.tenant ?? '';

  const saved = localStorage.getItem('event-flows.range');
  let rangeKey: RangeKey = isRangeKey(saved) ? saved : '1h';
  let category: ViewContext['category'];
  let generation = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const updated = h('span', { class: 'muted', 'data-control': 'updated' });

  const render = async () => {
    const mine = ++generation;
    const view = currentView();
    const range = timeRange(rangeKey);
    for (const tab of tabs.querySelectorAll('a')) tab.classList.toggle('active', tab.dataset.view === view);
    categoryPicker.hidden = view !== 'overview';
    main.dataset.state = 'loading';
    try {
      const element = await views[view]({ api, range, category });
      if (mine !== generation) return;
      main.replaceChildren(element);
      Object.assign(main.dataset, { state: 'ready', view, from: range.from, to: range.to, category: category ?? '' });
      updated.textContent = `updated ${new Date().toLocaleTimeString('en-GB')}`;
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof ApiError && error.status === 401) {
        clearSession();
        showError('Your sign-in has expired.', h('button', { onclick: () => window.location.reload() }, 'Sign in again'));
      } else if (error instanceof ApiError && error.status === 403) {
        showError(`The analytics routes need an admin token of tenant ${session.claims.tenant ?? '(none)'}; this one is not (${error.message}).`);
      } else showError(`Could not load the view: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  const tabs = h('nav', { class: 'tabs' }, ...Object.entries(viewNames).map(([name, label]) => h('a', { href: `#${name}`, 'data-view': name }, label)));
  const rangePicker = h(
    'select',
    {
      'data-control': 'range',
      'aria-label': 'time range',
      onchange: (event: Event) => {
        rangeKey = (event.target as HTMLSelectElement).value as RangeKey;
        localStorage.setItem('event-flows.range', rangeKey);
        void render();
      },
    },
    ...Object.entries(ranges).map(([key, { label }]) => h('option', { value: key, selected: key === rangeKey }, label)),
  );
  const categoryPicker = h(
    'select',
    {
      'data-control': 'category',
      'aria-label': 'event category (overview)',
      onchange: (event: Event) => {
        const value = (event.target as HTMLSelectElement).value;
        category = categories.find((c) => c === value);
        void render();
      },
    },
    h('option', { value: '' }, 'All categories'),
    ...categories.map((c) => h('option', { value: c }, c)),
  );
  const auto = h('input', {
    type: 'checkbox',
    'data-control': 'auto-refresh',
    checked: true,
    onchange: () => schedule(),
  });
  const schedule = () => {
    clearInterval(timer);
    if (auto.checked) timer = setInterval(() => void render(), config.refreshSeconds * 1000);
  };
  const signOut = () => {
    clearSession();
    if (config.auth.kind === 'cognito') window.location.assign(cognitoLogoutUrl(config.auth));
    else window.location.reload();
  };
  controls.replaceChildren(
    tabs,
    h(
      'div',
      { class: 'actions' },
      rangePicker,
      categoryPicker,
      h('label', {}, auto, ` auto-refresh (${config.refreshSeconds} s)`),
      h('button', { type: 'button', 'data-control': 'refresh', onclick: () => void render() }, 'Refresh'),
      updated,
      h('button', { type: 'button', class: 'link', 'data-control': 'sign-out', onclick: signOut }, 'Sign out'),
    ),
  );
  controls.hidden = false;
  window.addEventListener('hashchange', () => void render());
  schedule();
  await render();
}

start().catch((error: unknown) => showError(`The dashboard could not start: ${error instanceof Error ? error.message : String(error)}`));
