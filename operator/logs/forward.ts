/**
 * --log-forward: every stored line is also sent to an OpenTelemetry logs endpoint (OTLP over HTTP, JSON), through the
 * OpenTelemetry SDK's batch processor and OTLP exporter (batched, retried with backoff on 429/5xx, bounded: past its
 * queue, lines are dropped from the forwarding, never from the store). Forwarding never blocks collection: a line is
 * handed over after the store took it, and the export runs on its own timer. Each record carries the line's engine
 * time, its stream as `log.iostream` and its source as `berth.*` attributes; the resource names the instance.
 * Extra headers (an API key) come from OTEL_EXPORTER_OTLP_HEADERS / OTEL_EXPORTER_OTLP_LOGS_HEADERS, as the SDK reads them.
 */
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import type { LogSource, NewLine } from './store.ts';

export interface ForwardOptions {
  /** The OTLP/HTTP logs endpoint, e.g. http://collector:4318/v1/logs. */
  url: string;
  instance: string;
  /** Lines held for export at most (beyond: dropped from forwarding, counted). */
  maxQueue?: number;
  batchSize?: number;
  delayMs?: number;
}

export class LogForwarder {
  private readonly provider: LoggerProvider;
  private readonly logger;
  private forwarded = 0;

  constructor(opts: ForwardOptions) {
    const exporter = new OTLPLogExporter({ url: opts.url, timeoutMillis: 10_000 });
    const processor = new BatchLogRecordProcessor({
      exporter, maxQueueSize: opts.maxQueue ?? 20_000, maxExportBatchSize: opts.batchSize ?? 1000, scheduledDelayMillis: opts.delayMs ?? 1000, exportTimeoutMillis: 30_000,
    });
    this.provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'berth', 'berth.instance': opts.instance }), processors: [processor] });
    this.logger = this.provider.getLogger('berth.logs');
  }

  /** Hands stored lines to the exporter's queue (cheap and synchronous: the export runs later). */
  forward(batches: readonly { source: LogSource; lines: readonly NewLine[] }[]): void {
    for (const { source, lines } of batches) {
      const attributes = {
        'berth.namespace': source.namespace, 'berth.service': source.service, 'berth.kind': source.kind, 'berth.replica': source.replica,
        'berth.container': source.container, 'berth.node': source.node,
      };
      for (const l of lines) {
        this.logger.emit({
          timestamp: [Math.floor(l.ts / 1_000_000), (l.ts % 1_000_000) * 1000],
          severityNumber: l.stream === 'stderr' ? SeverityNumber.WARN : SeverityNumber.INFO,
          severityText: l.stream === 'stderr' ? 'WARN' : 'INFO',
          body: l.text,
          attributes: { ...attributes, 'log.iostream': l.stream },
        });
        this.forwarded++;
      }
    }
  }

  get count(): number {
    return this.forwarded;
  }

  /** Exports what is queued (within the exporter's timeout) and stops. */
  async stop(): Promise<void> {
    await this.provider.shutdown().catch(() => undefined);
  }
}
