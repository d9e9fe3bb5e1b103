/**
 * A page whose code is fetched the first time it is shown (esbuild splits it into a chunk of its
 * own): the first load carries the dashboard, the login and the frame, and each other page costs one
 * request when first opened. While it loads the page says so; a chunk that cannot be fetched (the
 * device restarted with new firmware, the link dropped) says that, with a retry.
 */
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { t } from './i18n.ts';

export function lazyPage(load: () => Promise<ComponentType>): ComponentType {
  let loaded: ComponentType | null = null;
  let pending: Promise<ComponentType> | null = null;
  return function LazyPage() {
    const [, setShown] = useState<ComponentType | null>(loaded);
    const [failed, setFailed] = useState(false);
    const fetchPage = () => {
      setFailed(false);
      pending ??= load();
      pending.then(
        (page) => {
          loaded = page;
          setShown(() => page);
        },
        () => {
          pending = null;
          setFailed(true);
        },
      );
    };
    useEffect(() => {
      if (!loaded) fetchPage();
    }, []);
    if (loaded) {
      const Page = loaded;
      return <Page />;
    }
    return failed ? (
      <p class="error" role="alert">
        {t('This page could not be loaded from the meter.')}{' '}
        <button type="button" onClick={fetchPage}>
          {t('Retry')}
        </button>
      </p>
    ) : (
      <p class="muted" aria-busy="true">
        {t('Loading…')}
      </p>
    );
  };
}
