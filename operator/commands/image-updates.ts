/**
 * berth run's image update automation (images/automation.ts) on a timer: it learns the revision in force after every
 * pass, checks each service's spec.imagePolicy when its interval is due, and wakes the loop when it committed onto the
 * tracked branch (the new tag is then applied without waiting for the next poll).
 */
import { ImageAutomation, type ImageAutomationDeps } from '../images/automation.ts';
import type { PassListener } from './listeners.ts';

export interface ImageUpdates extends PassListener {
  stop(): void;
}

/** Longest wait of the timer, so a clock jump or a missed wake-up costs at most this. */
const MAX_WAIT_MS = 60_000;

export function startImageUpdates(deps: ImageAutomationDeps, wake: (reason: string) => void): ImageUpdates {
  const automation = new ImageAutomation(deps);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = (): void => {
    if (stopped) return;
    clearTimeout(timer);
    const due = automation.nextDue();
    if (due === undefined) return;
    timer = setTimeout(() => void run(), Math.max(0, Math.min(MAX_WAIT_MS, due - Date.now())));
    timer.unref();
  };
  const run = async (): Promise<void> => {
    const updates = await automation.tick();
    if (updates.length && deps.mode === 'branch') wake(`image update committed (${updates.map((u) => `${u.service} ${u.to}`).join(', ')})`);
    arm();
  };
  return {
    afterPass(r) {
      if (!r.desired) return;
      automation.track(r.desired);
      arm();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
