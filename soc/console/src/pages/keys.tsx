// Keys and certificates: the SOC's own certificates, the crypto service's keys (metadata and the
// certificates of SM2 key versions) and applications; certificates soonest to expire first, flagged
// inside the warning window (GET /api/v1/keys/overview).
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';

interface Overview {
  warningDays: number;
  certificates: { source: string; subject: string; issuer: string; serial: string; notAfter: string; daysLeft: number; expiringSoon: boolean }[];
  kms: {
    apps: { name: string; keys: string[]; ops: string[]; revoked: boolean }[];
    keys: { name: string; type: string; latestVersion: number; versions: number; disabled: boolean; exportable: boolean; createdAt: string; destroyAt: string | null }[];
  } | null;
}

export function Keys() {
  const [o, setO] = useState<Overview | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api<Overview>('GET', '/api/v1/keys/overview').then(setO, (e: Error) => setError(e.message));
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!o) return <p>{t('loading')}</p>;
  return (
    <div>
      <h3>
        {t('certificates')} <span class="muted">({t('expiringWithin')} {o.warningDays} d)</span>
      </h3>
      <table class="grid" data-testid="certificates">
        <thead>
          <tr>
            <th>{t('source')}</th>
            <th>{t('subject')}</th>
            <th>{t('issuer')}</th>
            <th>{t('notAfter')}</th>
            <th>{t('daysLeft')}</th>
          </tr>
        </thead>
        <tbody>
          {o.certificates.map((c) => (
            <tr key={c.source + c.serial} class={c.expiringSoon ? 'warn' : ''}>
              <td class="mono">{c.source}</td>
              <td>{c.subject}</td>
              <td>{c.issuer}</td>
              <td class="nowrap">{c.notAfter.slice(0, 10)}</td>
              <td>{c.daysLeft}{c.expiringSoon ? ` · ${t('expiringSoon')}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {o.kms && (
        <>
          <h3>{t('kmsKeys')}</h3>
          <table class="grid" data-testid="kms-keys">
            <thead>
              <tr>
                <th>{t('name')}</th>
                <th>{t('type')}</th>
                <th>{t('version')}</th>
                <th>{t('createdAt')}</th>
                <th>{t('status')}</th>
              </tr>
            </thead>
            <tbody>
              {o.kms.keys.map((k) => (
                <tr key={k.name} class={k.disabled || k.destroyAt ? 'warn' : ''}>
                  <td class="mono">{k.name}</td>
                  <td class="mono">{k.type}</td>
                  <td>
                    v{k.latestVersion} ({k.versions})
                  </td>
                  <td class="nowrap">{k.createdAt.slice(0, 10)}</td>
                  <td>{k.destroyAt ? `${t('destroyAt')} ${k.destroyAt.slice(0, 10)}` : k.disabled ? t('disabled') : t('enabled')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h3>{t('kmsApps')}</h3>
      {o.kms === null ? (
        <p class="muted">{t('kmsOff')}</p>
      ) : (
        <table class="grid">
          <tbody>
            {o.kms.apps.map((a) => (
              <tr key={a.name}>
                <td class="mono">{a.name}</td>
                <td class="tags">{a.keys.join(' ')}</td>
                <td class="tags">{a.ops.join(' ')}</td>
                <td>{a.revoked ? t('disabled') : t('enabled')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
