/** The nodes: state, capacity, what berth's containers reserve on each (and how full), pressure, labels, replicas. */
import type { Status } from '../types.ts';
import { bytes, cores } from '../ui.tsx';

function Meter({ used, total, label }: { used: number; total: number | undefined; label: string }) {
  if (total === undefined || !Number.isFinite(total) || total <= 0) return <span class="muted">{label} reserved, capacity unknown</span>;
  const pct = Math.round((used / total) * 100);
  return (
    <span class="meter-row">
      <meter min={0} max={total} value={used} high={total * 0.85} aria-label={`${label} of ${pct}%`} /> {label} <span class="muted">({pct}%)</span>
    </span>
  );
}

export function Nodes({ status }: { status: Status }) {
  const replicasOn = (node: string) => Object.entries(status.services).flatMap(([k, s]) => s.replicas.filter((r) => r.node === node).map((r) => `${k} #${r.replica}`));
  return (
    <section aria-label="nodes">
      <h1>Nodes</h1>
      {!status.nodes?.length ? <p class="muted">One engine (no Node manifests): every replica runs on the local engine.</p> : (
        <div class="scroll">
          <table>
            <thead><tr><th>Node</th><th>State</th><th>CPU</th><th>Memory</th><th>Replicas</th></tr></thead>
            <tbody>{status.nodes.map((n) => {
              const on = replicasOn(n.name);
              const a = n.allocated ?? { cpu: 0, memory: 0, containers: 0 };
              return (
                <tr data-node={n.name}>
                  <td><strong>{n.name}</strong> <div class="muted">{n.endpoint}</div>{n.labels && <div class="muted">{Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(' ')}</div>}</td>
                  <td>
                    <span class={n.state === 'Ready' ? 'h-healthy' : 'h-degraded'}>{n.state}</span>{n.cordoned && <span class="h-suspended"> · cordoned</span>}
                    {n.memoryPressure && <div class="h-degraded" data-testid="pressure">memory pressure: {n.memoryPressure}</div>}
                    {n.error && <div class="message">{n.error}</div>}
                  </td>
                  <td data-testid="cpu"><Meter used={a.cpu} total={n.capacity?.cpu} label={`${cores(a.cpu)} of ${cores(n.capacity?.cpu ?? Infinity)} cores`} /></td>
                  <td data-testid="memory"><Meter used={a.memory} total={n.capacity?.memory} label={`${bytes(a.memory)} of ${bytes(n.capacity?.memory ?? Infinity)}`} /></td>
                  <td>{a.containers} container(s){on.length > 0 && <div class="message">{on.join(', ')}</div>}</td>
                </tr>
              );
            })}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}
