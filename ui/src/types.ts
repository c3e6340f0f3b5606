/** The shapes of berth's API the dashboard reads (operator/status/report.ts and the routes under operator/server). */
export type Health = string;
export interface Condition { type: string; status: string; reason: string; message: string; lastTransitionTime: string }
export interface Replica { replica: string; container: string; node?: string; health: Health; ready: boolean; message?: string; restarts?: number }
export interface Autoscale { min: number; max: number; replicas: number; decisions?: { at: string; from: number; to: number; reason: string }[] }
export interface Service { desired: number; running: number; ready: number; health: Health; image: string; digest?: string; message?: string; replicas: Replica[]; autoscale?: Autoscale }
export interface NodeState {
  name: string;
  state: string;
  endpoint?: string;
  error?: string;
  memoryPressure?: string;
  capacity?: { cpu: number; memory: number };
  allocated?: { cpu: number; memory: number; containers: number };
  labels?: Record<string, string>;
  cordoned?: boolean;
}
export interface JobEntry { phase: string; ready: number; desired: number; health: Health; message?: string }
export interface CronEntry { schedule: string; next?: string; health: Health; message?: string; active: string[] }
export interface Held { action: string; reason: string; revision: string; at?: string }
export interface DriftPause { by: string; at: string; reason?: string }
export interface Status {
  instance: string;
  source: { repo: string; branch: string; path: string };
  revision: { applied: string | null; latest: string | null };
  conditions: Condition[];
  services: Record<string, Service>;
  held: Record<string, Held>;
  drift?: string[];
  driftPaused?: Record<string, DriftPause>;
  lastError: { code: string; message: string; revision: string | null } | null;
  nodes?: NodeState[];
  jobs?: Record<string, JobEntry>;
  cronJobs?: Record<string, CronEntry>;
  logs?: { store: string; file: string; error: string };
}
export interface RouteRule { host?: string; pathPrefix?: string; backends: { service: string; weight: number }[]; source: string }
export interface Listener {
  address: string; kind: string; owners: string[]; protocol: string; backends: Record<string, number>;
  algorithm?: string; rules?: RouteRule[]; tls?: boolean;
  stats: { active: number; total: number; failedConnects: number }; error?: string;
}
export interface Revision { revision: string; commit: { subject: string; author: string; committedAt: string } | null; applied: boolean; result: string; ready: boolean; message: string; durationMs: number | null; current: boolean }
export interface HeadPlan { revision: string | null; applied: boolean; markdown: string | null; ok: boolean }
export interface ReviewPlan { key: string; title: string; url?: string; revision: string; ok: boolean; summary: string; markdown: string; plannedAt: string }
export interface Line { id: number; time: string; replica: string; stream: string; text: string }
export interface Event { id: number; time: string; type: string; reason?: string; message: string; service?: string; namespace?: string }
export interface Series { service: string; stepMs: number; t: number[]; rps: (number | null)[]; p50: (number | null)[]; p95: (number | null)[]; cpu: (number | null)[]; memory: (number | null)[] }
