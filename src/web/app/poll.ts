// Polling an API route while a panel is on screen.
import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api.ts';
import { featureMissing, state } from './store.ts';

/**
 * GET `path` now and every `ms` while mounted, the page visible and the gateway reachable; a 404 hides `feature`.
 * A new `refresh` value reads it again at once.
 */
export function usePoll<T>(path: string, ms: number, feature: string, refresh = 0): T | undefined {
  const [data, setData] = useState<T | undefined>();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let mounted = true;
    const tick = async () => {
      if (document.visibilityState === 'visible' && state.live.kind === 'open') {
        try {
          const d = await getJson<T>(path);
          if (mounted) setData(d);
        } catch (err) {
          if (featureMissing(feature, err)) return;
        }
      }
      if (mounted) timer = setTimeout(() => void tick(), ms);
    };
    void tick();
    return () => {
      mounted = false;
      clearTimeout(timer);
    };
  }, [path, ms, feature, refresh]);
  return data;
}
