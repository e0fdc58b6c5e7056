// Login (password, then a TOTP step when the server asks for it; or SM2 challenge-response for
// users holding an SM2 key, as USB keys do), first-login password change and TOTP enrolment — the
// flows of soc/README.md "Session and CSRF contract".
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
  const [sm2, setSm2] = useState(false);

  if (sm2) return <Sm2Login onDone={onDone} onBack={() => setSm2(false)} />;

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
        <button type="button" class="link" onClick={() => setSm2(true)} data-testid="sm2-mode">
          {t('sm2Login')}
        </button>
      </form>
    </div>
  );
}

/** The text the key signs: `sm2LoginMessage` of soc/src/auth/service.ts (user and challenge bound). */
function sm2Message(username: string, challenge: string): string {
  return `xiangan-sm2-login\n${username}\n${challenge}`;
}

/**
 * SM2 challenge-response (GB/T 32918.2 signature with SM3, default ID): the server issues a
 * single-use challenge, the user's key signs the shown text (a USB key's tool, or
 * `xiangan sm2 sign --key key.pem`), and the signature (hex, DER or r‖s) is posted back.
 */
function Sm2Login({ onDone, onBack }: { onDone: (u: Me, csrf: string) => void; onBack: () => void }) {
  const [username, setUsername] = useState('');
  const [challenge, setChallenge] = useState<{ challengeId: string; challenge: string; expiresAt: string } | null>(null);
  const [signature, setSignature] = useState('');
  const [totp, setTotp] = useState('');
  const [error, setError] = useState('');
  const fail = (err: unknown) => setError(err instanceof ApiError ? t(MESSAGES[err.code] ?? err.message) : String(err));
  const ask = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      setChallenge(await api<{ challengeId: string; challenge: string; expiresAt: string }>('POST', '/api/v1/auth/sm2/challenge', { username }));
    } catch (err) {
      fail(err);
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const r = await api<{ user: Me; csrfToken: string }>('POST', '/api/v1/auth/sm2/login', { challengeId: challenge!.challengeId, signature: signature.replace(/\s+/g, ''), ...(totp ? { totp } : {}) });
      onDone(r.user, r.csrfToken);
    } catch (err) {
      // A challenge is single-use: ask for a new one.
      setChallenge(null);
      setSignature('');
      fail(err);
    }
  };
  return (
    <div class="login">
      {!challenge ? (
        <form onSubmit={ask} class="card" data-testid="sm2-form">
          <h1>{t('sm2Login')}</h1>
          <label>
            {t('username')}
            <input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
          </label>
          {error && <p class="error" role="alert">{error}</p>}
          <button type="submit">{t('sm2GetChallenge')}</button>
          <button type="button" class="link" onClick={onBack}>
            {t('passwordLogin')}
          </button>
        </form>
      ) : (
        <form onSubmit={submit} class="card" data-testid="sm2-form">
          <h1>{t('sm2Login')}</h1>
          <p>{t('sm2SignThis')}</p>
          <pre class="mono wrap" data-testid="sm2-message">
            {sm2Message(username, challenge.challenge)}
          </pre>
          <small class="muted">{t('sm2Hint')}</small>
          <label>
            {t('sm2Signature')}
            <textarea name="signature" rows={3} class="code" value={signature} onInput={(e) => setSignature(e.currentTarget.value)} required />
          </label>
          <label>
            {t('totp')}
            <input name="totp" inputMode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" value={totp} onInput={(e) => setTotp(e.currentTarget.value)} />
          </label>
          {error && <p class="error" role="alert">{error}</p>}
          <button type="submit">{t('login')}</button>
        </form>
      )}
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
