/** The scheduler (pure): place pending replicas on nodes, preempt lower priorities, pick victims under memory pressure. */
export { schedule } from './schedule.ts';
export { pressureVictims } from './pressure.ts';
export { PRIORITY_GAP } from './preempt.ts';
export { CHECKERS } from './checkers.ts';
export { scorersFor } from './scorers.ts';
export type { Assignment, Checker, Eviction, Placed, SchedNode, SchedReplica, ScheduleInput, ScheduleResult, Scorer, Unschedulable } from './types.ts';
