/** Races `p` against a timer of `ms`: rejects with Error(`message`) when the timer wins (`p` itself goes on). */
export function withDeadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
