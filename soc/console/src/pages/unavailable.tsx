// Pages whose API is owned by another part (compliance, keys, audit): probe the route and say
// plainly when it is not installed, rather than showing made-up data.
import { useEffect, useState } from 'preact/hooks';
import { available } from '../api.js';
import { t } from '../i18n.js';

export function Unavailable({ probe }: { probe: string }) {
  const [state, setState] = useState<'loading' | 'missing' | 'present'>('loading');
  useEffect(() => {
    available(probe).then((ok) => setState(ok ? 'present' : 'missing'), () => setState('missing'));
  }, [probe]);
  if (state === 'loading') return <p>{t('loading')}</p>;
  return (
    <p class="notice" data-testid="unavailable">
      {state === 'missing' ? t('notAvailable') : `${probe}: ${t('pageMissing')}`}
    </p>
  );
}
