// Console shell: login gate, navigation by URL hash, language toggle, live-stream status.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setCsrf, setUnauthorizedHandler, type Me } from './api.js';
import { lang, setLang, t } from './i18n.js';
import { signalLike, useObservable } from './state.js';
import { Login, PasswordChange, TotpEnrol } from './pages/login.js';
import { Overview } from './pages/overview.js';
import { Alerts } from './pages/alerts.js';
import { Events } from './pages/events.js';
import { Rules } from './pages/rules.js';
import { Users } from './pages/users.js';
import { Keys } from './pages/keys.js';
import { Audit } from './pages/audit.js';
import { Compliance } from './pages/compliance.js';
import { Assets } from './pages/assets.js';
import './style.css';

/** The signed-in user, or null for the login page; undefined while the first /me is pending. */
export const me = signalLike<Me | null | undefined>(undefined);
const notice = signalLike<string>('');

interface Page {
  id: string;
  label: string;
  permission?: string;
  view: (user: Me) => preact.JSX.Element;
}

const PAGES: Page[] = [
  { id: 'overview', label: 'overview', permission: 'events:read', view: () => <Overview /> },
  { id: 'alerts', label: 'alerts', permission: 'alerts:read', view: () => <Alerts /> },
  { id: 'events', label: 'events', permission: 'events:read', view: () => <Events /> },
  { id: 'rules', label: 'rules', permission: 'rules:read', view: (u) => <Rules canWrite={u.permissions.includes('rules:write')} /> },
  { id: 'assets', label: 'assets', permission: 'compliance:read', view: (u) => <Assets canImport={u.permissions.includes('compliance:run')} /> },
  { id: 'compliance', label: 'compliance', permission: 'compliance:read', view: (u) => <Compliance canRun={u.permissions.includes('compliance:run')} /> },
  { id: 'keys', label: 'keys', permission: 'keys:read', view: () => <Keys /> },
  { id: 'users', label: 'users', permission: 'users:read', view: (u) => <Users me={u} /> },
  { id: 'audit', label: 'audit', permission: 'audit:read', view: () => <Audit /> },
];

function useHash(): string {
  const [h, set] = useState(location.hash.replace(/^#\/?/, '') || 'alerts');
  useEffect(() => {
    const f = () => set(location.hash.replace(/^#\/?/, '') || 'alerts');
    addEventListener('hashchange', f);
    // The effect runs after the first paint: a hash changed between render and now sent its
    // hashchange before anyone listened (seen on a loaded CI machine right after sign-in).
    f();
    return () => removeEventListener('hashchange', f);
  }, []);
  return h;
}

function Shell({ user }: { user: Me }) {
  const hash = useHash();
  const [pageId, ...rest] = hash.split('/');
  const visible = PAGES.filter((p) => !p.permission || user.permissions.includes(p.permission));
  const page = visible.find((p) => p.id === pageId) ?? visible[0];
  const logout = async () => {
    await api('POST', '/api/v1/auth/logout').catch(() => undefined);
    me.value = null;
  };
  return (
    <div class="shell">
      <nav class="side">
        <div class="brand">{t('appName')}</div>
        {visible.map((p) => (
          <a key={p.id} href={`#/${p.id}`} class={p === page ? 'active' : ''} data-page={p.id}>
            {t(p.label)}
          </a>
        ))}
      </nav>
      <main>
        <header class="top">
          <h1>{page ? t(page.label) : ''}</h1>
          <span class="spacer" />
          <span class="who">
            {user.displayName || user.username} · {user.role}
          </span>
          <button class="link" onClick={() => setLang(lang.value === 'zh' ? 'en' : 'zh')} data-testid="lang">
            {lang.value === 'zh' ? 'English' : '中文'}
          </button>
          <button class="link" onClick={logout}>
            {t('logout')}
          </button>
        </header>
        <section class="content" data-sub={rest.join('/')}>{page ? page.view(user) : <p>{t('noPermission')}</p>}</section>
      </main>
    </div>
  );
}

function App() {
  const user = useObservable(me);
  const msg = useObservable(notice);
  useObservable(lang);
  useEffect(() => {
    setUnauthorizedHandler((code) => {
      if (me.value) notice.value = code === 'SOC_ERR_SESSION_EXPIRED' ? t('sessionExpired') : '';
      me.value = null;
    });
    api<Me>('GET', '/api/v1/auth/me').then(
      (u) => (me.value = u),
      () => (me.value = null),
    );
  }, []);
  if (user === undefined) return <p class="center">{t('loading')}</p>;
  if (user === null)
    return (
      <Login
        notice={msg}
        onDone={(u, csrf) => {
          setCsrf(csrf);
          notice.value = '';
          me.value = u;
        }}
      />
    );
  if (user.mustChangePassword) return <PasswordChange onDone={refreshMe} />;
  if (user.totpRequired && !user.totpEnabled) return <TotpEnrol onDone={refreshMe} />;
  return <Shell user={user} />;
}

async function refreshMe(): Promise<void> {
  try {
    me.value = await api<Me>('GET', '/api/v1/auth/me');
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
  }
}

render(<App />, document.getElementById('app')!);
