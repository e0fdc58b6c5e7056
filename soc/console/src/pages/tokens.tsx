// API tokens for machines (collectors, scripts): the security administrator creates one with the
// permissions it needs (shown once), sees when each was last used, and revokes it
// (GET/POST /api/v1/tokens, DELETE /api/v1/tokens/:id).
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { fmtTime } from './alerts.js';

interface TokenRow {
  id: string;
  name: string;
  permissions: string[];
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/**
 * Permissions a token may carry: those of the roles, less account administration (never on a
 * token, soc/src/auth/permissions.ts TOKEN_PERMISSIONS, so a leaked token cannot mint
 * administrators) and less the audit and system administrators' jobs unless the creator holds
 * them (三权分立, soc/src/routes/admin.ts).
 */
function grantable(roles: { permissions: string[] }[], mine: readonly string[]): string[] {
  return [...new Set(roles.flatMap((r) => r.permissions))].filter((p) => !/^(users|tokens|sessions|security):/.test(p) && (!/^(audit|system):/.test(p) || mine.includes(p))).sort();
}

export function Tokens({ canWrite, roles, mine }: { canWrite: boolean; roles: { permissions: string[] }[]; mine: readonly string[] }) {
  const [tokens, setTokens] = useState<TokenRow[]>([]);
  const [name, setName] = useState('');
  const [perms, setPerms] = useState<string[]>([]);
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState('');
  const load = async () => {
    try {
      setTokens((await api<{ total: number; items: TokenRow[] }>('GET', '/api/v1/tokens?limit=200')).items);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const act = async (f: () => Promise<void>) => {
    setError('');
    try {
      await f();
      await load();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const create = (e: Event) => {
    e.preventDefault();
    if (!perms.length) return;
    void act(async () => {
      const r = await api<{ token: string; info: TokenRow }>('POST', '/api/v1/tokens', { name, permissions: perms });
      setSecret({ name: r.info.name, token: r.token });
      setName('');
      setPerms([]);
    });
  };
  return (
    <div data-testid="tokens">
      <h3>{t('apiTokens')}</h3>
      {error && <p class="error">{error}</p>}
      {secret && (
        <p class="notice">
          {t('tokenOnce')} · <b>{secret.name}</b>: <code data-testid="token-secret">{secret.token}</code>
        </p>
      )}
      {canWrite && (
        <form class="card" onSubmit={create} data-testid="create-token">
          <input required pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,63}" placeholder={t('tokenName')} value={name} onInput={(e) => setName(e.currentTarget.value)} name="name" />{' '}
          {grantable(roles, mine).map((p) => (
            <label key={p} class="nowrap">
              <input type="checkbox" value={p} checked={perms.includes(p)} onChange={(e) => setPerms(e.currentTarget.checked ? [...perms, p] : perms.filter((x) => x !== p))} /> {p}{' '}
            </label>
          ))}
          <button type="submit">{t('createToken')}</button>
        </form>
      )}
      <table class="grid">
        <thead>
          <tr>
            <th>{t('tokenName')}</th>
            <th>{t('permissions')}</th>
            <th>{t('createdBy')}</th>
            <th>{t('lastUsed')}</th>
            <th>{t('status')}</th>
            {canWrite && <th>{t('actions')}</th>}
          </tr>
        </thead>
        <tbody>
          {tokens.map((k) => (
            <tr key={k.id} data-token={k.name}>
              <td>{k.name}</td>
              <td class="tags">{k.permissions.join(' ')}</td>
              <td>
                {k.createdBy} {fmtTime(k.createdAt)}
              </td>
              <td>{k.lastUsedAt ? fmtTime(k.lastUsedAt) : '—'}</td>
              <td data-col="status">{k.revokedAt ? t('revoked') : t('enabled')}</td>
              {canWrite && <td>{!k.revokedAt && <button data-testid="revoke" onClick={() => confirm(t('confirmRevoke')) && void act(() => api('DELETE', `/api/v1/tokens/${encodeURIComponent(k.id)}`))}>{t('revoke')}</button>}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
