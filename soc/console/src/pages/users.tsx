// Users and roles (read-only list here; changes go through the security administrator's API).
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { fmtTime } from './alerts.js';

interface User {
  username: string;
  displayName: string;
  role: string;
  disabled: boolean;
  totpEnabled: boolean;
  lockedUntil: string | null;
  updatedAt: string;
}

export function Users() {
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ items: User[] }>('GET', '/api/v1/users?limit=500').then(
      (r) => setUsers(r.items),
      (e: Error) => setError(e.message),
    );
  }, []);
  return (
    <div>
      {error && <p class="error">{error}</p>}
      <table class="grid">
        <thead>
          <tr>
            <th>{t('username')}</th>
            <th>{t('role')}</th>
            <th>{t('totpOn')}</th>
            <th>{t('status')}</th>
            <th>{t('lastSeen')}</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.username}>
              <td>
                {u.username} <span class="muted">{u.displayName}</span>
              </td>
              <td>{u.role}</td>
              <td>{u.totpEnabled ? '✓' : ''}</td>
              <td>{u.disabled ? t('disabled') : u.lockedUntil ? t('locked') : t('enabled')}</td>
              <td>{fmtTime(u.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
