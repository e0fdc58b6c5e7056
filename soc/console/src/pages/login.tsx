// Login (password, then a TOTP step when the server asks for it), first-login password change
// and TOTP enrolment — the flows of soc/README.md "Session and CSRF contract".
import { useState } from 'preact/hooks';
import { api, ApiError, type Me } from '../api.js';
import { t } from '../i18n.js';

const MESSAGES: Record<string, string> = {
  SOC_ERR_LOGIN_FAILED: 'loginFailed',
  SOC_ERR_LOCKED: 'locked',
  SOC_ERR_RATE_LIMITED: 'rateLimited',
};

export function Login({ onDone, notice }: { onDone: (u: Me, csrf: string) => void; notice: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needTotp, setNeedTotp] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await api<{ user: Me; csrfToken: string }>('POST', '/api/v1/auth/login', { username, password, ...(needTotp ? { totp } : {}) });
      onDone(r.user, r.csrfToken);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'SOC_ERR_TOTP_REQUIRED') setNeedTotp(true);
      else setError(err instanceof ApiError ? t(MESSAGES[err.code] ?? err.message) : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="login">
      <form onSubmit={submit} class="card" data-testid="login-form">
        <h1>{t('appName')}</h1>
        {notice && <p class="notice">{notice}</p>}
        <label>
          {t('username')}
          <input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required disabled={needTotp} />
        </label>
        <label>
          {t('password')}
          <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required disabled={needTotp} />
        </label>
        {needTotp && (
          <label>
            {t('totp')}
            <input name="totp" inputMode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" value={totp} onInput={(e) => setTotp(e.currentTarget.value)} required autoFocus />
            <small>{t('totpHint')}</small>
          </label>
        )}
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>
          {t('login')}
        </button>
      </form>
    </div>
  );
}

export function PasswordChange({ onDone }: { onDone: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await api('POST', '/api/v1/auth/password', { current, next });
      onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div class="login">
      <form onSubmit={submit} class="card">
        <h1>{t('changePassword')}</h1>
        <p>{t('mustChange')}</p>
        <label>
          {t('current')}
          <input name="current" type="password" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} required />
        </label>
        <label>
          {t('next')}
          <input name="next" type="password" value={next} onInput={(e) => setNext(e.currentTarget.value)} required minLength={12} />
        </label>
        {error && <p class="error">{error}</p>}
        <button type="submit">{t('save')}</button>
      </form>
    </div>
  );
}

export function TotpEnrol({ onDone }: { onDone: () => void }) {
  const [secret, setSecret] = useState('');
  const [code, setCode] = useState('');
  const [error, setError] = useState('');
  const start = async () => {
    try {
      setSecret((await api<{ secret: string }>('POST', '/api/v1/auth/totp/enrol')).secret);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await api('POST', '/api/v1/auth/totp/confirm', { code });
      onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div class="login">
      <form onSubmit={submit} class="card">
        <h1>{t('enrolTotp')}</h1>
        {!secret ? (
          <button type="button" onClick={start}>
            {t('enrolTotp')}
          </button>
        ) : (
          <>
            <p>
              {t('secret')}: <code data-testid="totp-secret">{secret}</code>
            </p>
            <label>
              {t('totp')}
              <input name="code" inputMode="numeric" value={code} onInput={(e) => setCode(e.currentTarget.value)} required />
            </label>
            <button type="submit">{t('confirm')}</button>
          </>
        )}
        {error && <p class="error">{error}</p>}
      </form>
    </div>
  );
}
