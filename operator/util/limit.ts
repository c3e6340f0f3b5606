/** A counting semaphore: at most `n` tasks in flight. */
export interface Limiter {
  /** Runs `fn` once a slot is free. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

export function limiter(n: number): Limiter {
  let active = 0;
  const queue: (() => void)[] = [];
  const release = (): void => {
    active--;
    queue.shift()?.();
  };
  return {
    async run<T>(fn: () => Promise<T>): Promise<T> {
      if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
      active++;
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}
