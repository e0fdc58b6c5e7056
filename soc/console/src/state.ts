// A minimal observable value and a hook that re-renders on change — enough for the shell's
// global state (language, user) without another dependency.
import { useEffect, useState } from 'preact/hooks';

export interface Observable<T> {
  value: T;
  subscribe(f: (v: T) => void): () => void;
}

export function signalLike<T>(initial: T): Observable<T> {
  let v = initial;
  const subs = new Set<(v: T) => void>();
  return {
    get value() {
      return v;
    },
    set value(n: T) {
      v = n;
      for (const f of subs) f(n);
    },
    subscribe(f) {
      subs.add(f);
      return () => subs.delete(f);
    },
  };
}

export function useObservable<T>(o: Observable<T>): T {
  const [v, set] = useState(o.value);
  useEffect(() => o.subscribe(set), [o]);
  return v;
}
