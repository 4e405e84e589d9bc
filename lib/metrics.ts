import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { HubMetric } from './protocol.js';

/**
 * What the hub counts (CloudWatch EMF, in Lambda): per kind, and per principal only for the
 * configured apps (a deployment has a handful, and an operator wants each one's graph); principals
 * registered at run time (a platform's thousands of authorizers) are counted per kind and
 * hub-wide only, since each dimension value is a custom metric billed on its own; their log lines
 * name them.
 */
export class HubMetrics {
  constructor(private readonly metrics: Metrics | undefined) {}

  count(metric: HubMetric, kind: string, app?: string): void {
    if (!this.metrics) return;
    const single = this.metrics.singleMetric();
    if (app !== undefined) single.addDimension('app', app);
    single.addDimension('kind', kind);
    single.addMetric(metric, MetricUnit.Count, 1);
    this.metrics.singleMetric().addMetric(metric, MetricUnit.Count, 1);
  }

  /** A gauge, hub-wide (the alarms read these). */
  gauge(name: string, unit: 'Seconds' | 'Percent' | 'Count', value: number): void {
    this.metrics?.singleMetric().addMetric(name, MetricUnit[unit], value);
  }
}
