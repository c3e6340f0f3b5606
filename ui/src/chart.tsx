/** A small time-series chart (uPlot: canvas, ~20 kB): one or two lines over the last minutes, gaps where no data. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartLine { label: string; values: (number | null)[] }

const COLORS = ['--accent', '--busy'];

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

export function Chart({ title, t, lines, unit }: { title: string; t: number[]; lines: ChartLine[]; unit: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = lines.map((l) => l.label).join('\0');
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(200, Math.floor(el.clientWidth));
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--line'), width: 1 }, ticks: { stroke: cssVar('--line'), width: 1 } };
    plot.current = new uPlot({
      width: width(), height: 140, legend: { show: true }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [axis, { ...axis, size: 70, values: (_u, ticks) => ticks.map((v) => `${+v.toPrecision(3)} ${unit}`) }],
      series: [{}, ...lines.map((l, i) => ({ label: l.label, stroke: cssVar(COLORS[i % COLORS.length]!), width: 1.5, spanGaps: false }))],
    }, [t, ...lines.map((l) => l.values)], el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 140 }));
    resize.observe(el);
    return () => { resize.disconnect(); plot.current?.destroy(); plot.current = null; };
  }, [shape, unit]);
  useEffect(() => {
    plot.current?.setData([t, ...lines.map((l) => l.values)]);
  }, [t, lines]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${describe(lines, unit)}`} />
    </figure>
  );
}

/** The last value of each line, for screen readers and tests. */
function describe(lines: ChartLine[], unit: string): string {
  return lines.map((l) => {
    const last = [...l.values].reverse().find((v) => v !== null);
    return `${l.label} ${last === undefined || last === null ? 'no data' : `${+last.toPrecision(3)} ${unit}`}`;
  }).join(', ');
}
