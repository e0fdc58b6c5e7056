// Users and roles: the security administrator creates users, changes roles, disables, unlocks and
// resets passwords or TOTP (each change is audited by the server); others with users:read see
// the list. One-time passwords are shown once, in a panel the administrator closes.
import { useEffect, useState } from 'preact/hooks';
import { api, type Me } from '../api.js';
import { t } from '../i18n.js';
import { fmtTime } from './alerts.js';
import { Tokens } from './tokens.js';

interface User {
  username: string;
  displayName: string;
  role: string;
  disabled: boolean;
  totpEnabled: boolean;
  lockedUntil: string | null;
  updatedAt: string;
}

interface RoleInfo {
  name: string;
  description: string;
  permissions: string[];
}

export function Users({ me }: { me: Me }) {
  const canWrite = me.permissions.includes('users:write');
  const [users, setUsers] = useState<User[]>([]);
  const [roles, setRoles] = useState<RoleInfo[]>([]);
  const [error, setError] = useState('');
  const [secret, setSecret] = useState<{ username: string; password: string } | null>(null);
  const [form, setForm] = useState({ username: '', role: 'analyst', displayName: '', sm2PublicKey: '' });
  const load = async () => {
    try {
      const [u, r] = await Promise.all([api<{ items: User[] }>('GET', '/api/v1/users?limit=1000'), api<RoleInfo[]>('GET', '/api/v1/roles')]);
      setUsers(u.items);
      setRoles(r);
      setError('');
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const act = async (f: () => Promise<unknown>) => {
    try {
      await f();
      await load();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const path = (u: User) => `/api/v1/users/${encodeURIComponent(u.username)}`;
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      // An SM2 public key (uncompressed or compressed point, hex) lets the user sign in with the key.
      const body = { username: form.username, role: form.role, ...(form.displayName ? { displayName: form.displayName } : {}), ...(form.sm2PublicKey.trim() ? { sm2PublicKey: form.sm2PublicKey.trim() } : {}) };
      const r = await api<{ user: User; password: string }>('POST', '/api/v1/users', body);
      setSecret({ username: r.user.username, password: r.password });
      setForm({ username: '', role: form.role, displayName: '', sm2PublicKey: '' });
    });
  };
  const reset = (u: User) =>
    act(async () => {
      const r = await api<{ password: string }>('POST', `${path(u)}/reset-password`);
      setSecret({ username: u.username, password: r.password });
    });
  return (
    <div>
      {error && <p class="error">{error}</p>}
      {secret && (
        <div class="notice" data-testid="one-time">
          {t('oneTimePassword')} · <b>{secret.username}</b>: <code data-testid="one-time-password">{secret.password}</code>
          <div class="muted">{t('oneTimeHint')}</div>
          <button onClick={() => setSecret(null)}>{t('close')}</button>
        </div>
      )}
      {canWrite && (
        <form class="toolbar card" onSubmit={create} data-testid="create-user">
          <b>{t('createUser')}</b>
          <input required pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,63}" placeholder={t('username')} value={form.username} onInput={(e) => setForm({ ...form, username: e.currentTarget.value })} name="username" />
          <input placeholder={t('displayName')} value={form.displayName} onInput={(e) => setForm({ ...form, displayName: e.currentTarget.value })} name="displayName" />
          <input placeholder={t('sm2PublicKey')} pattern="[0-9a-fA-F]{66}|[0-9a-fA-F]{130}" value={form.sm2PublicKey} onInput={(e) => setForm({ ...form, sm2PublicKey: e.currentTarget.value })} name="sm2PublicKey" class="mono" />
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.currentTarget.value })} name="role">
            {roles.map((r) => (
              <option key={r.name} value={r.name}>
                {r.name}
              </option>
            ))}
          </select>
          <button type="submit">{t('createUser')}</button>
        </form>
      )}
      <table class="grid" data-testid="users">
        <thead>
          <tr>
            <th>{t('username')}</th>
            <th>{t('role')}</th>
            <th>{t('totpOn')}</th>
            <th>{t('status')}</th>
            <th>{t('lastSeen')}</th>
            {canWrite && <th>{t('actions')}</th>}
          </tr>
        </thead>
        <tbody>
          {users.map((u) => {
            const self = u.username === me.username;
            return (
              <tr key={u.username} data-user={u.username}>
                <td>
                  {u.username} <span class="muted">{u.displayName}</span> {self && <span class="muted">{t('you')}</span>}
                </td>
                <td>
                  {canWrite && !self ? (
                    <select value={u.role} data-testid="role" onChange={(e) => act(() => api('PATCH', path(u), { role: e.currentTarget.value }))}>
                      {roles.map((r) => (
                        <option key={r.name} value={r.name}>
                          {r.name}
                        </option>
                      ))}
                    </select>
                  ) : (
                    u.role
                  )}
                </td>
                <td>{u.totpEnabled ? '✓' : ''}</td>
                <td data-col="status">{u.disabled ? t('disabled') : u.lockedUntil ? t('locked') : t('enabled')}</td>
                <td>{fmtTime(u.updatedAt)}</td>
                {canWrite && (
                  <td class="buttons">
                    {!self &&
                      (u.disabled ? (
                        <button onClick={() => act(() => api('PATCH', path(u), { disabled: false }))}>{t('enable')}</button>
                      ) : (
                        <button data-testid="disable" onClick={() => confirm(t('confirmDisable')) && act(() => api('PATCH', path(u), { disabled: true }))}>
                          {t('disable')}
                        </button>
                      ))}
                    <button data-testid="reset" onClick={() => reset(u)}>
                      {t('resetPassword')}
                    </button>
                    {u.lockedUntil && <button onClick={() => act(() => api('POST', `${path(u)}/unlock`))}>{t('unlock')}</button>}
                    {u.totpEnabled && <button onClick={() => act(() => api('DELETE', `${path(u)}/totp`))}>{t('resetTotp')}</button>}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {me.permissions.includes('tokens:read') && <Tokens canWrite={me.permissions.includes('tokens:write')} roles={roles} mine={me.permissions} />}
      <h3>{t('role')}</h3>
      <table class="grid">
        <tbody>
          {roles.map((r) => (
            <tr key={r.name}>
              <td class="mono">{r.name}</td>
              <td>{r.description}</td>
              <td class="tags">{r.permissions.join(' ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
