/** Cluster shapes shared by the runtime (which observes nodes) and the status (which reports them). */

/** One engine of the cluster in the status. */
export interface NodeStatus {
  name: string;
  state: 'Ready' | 'Unknown' | 'NotReady';
  endpoint: string;
  /** Why it is not Ready. */
  error?: string;
  /** Set while the node is (or recently was) over its memory high mark and takes no new replica. */
  memoryPressure?: string;
  /** Schedulable capacity (cores, bytes), once the engine answered. */
  capacity?: { cpu: number; memory: number };
  /** What the containers berth runs on it reserve (their CPU and memory limits), and how many run. */
  allocated?: { cpu: number; memory: number; containers: number };
  labels?: Record<string, string>;
  /** Cordoned (`unschedulable: true`): nothing new is placed on it. */
  cordoned?: boolean;
  /** The engine and its version (`Docker 20.10.24`, `Podman 4.3.1`). */
  engine?: string;
  /** How the engine differs in ways berth works with (Podman: no in-place update, Buildah builds). */
  limits?: string[];
}
