import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { HubMetric } from './protocol.js';

/**
 * Whether a principal is counted under its own name: a configured app's name never has a `/`
 * (lib/config/apps.ts), a principal registered at run time always has one (`<platform>/<appid>`).
 */
const perPrincipal = (name: string): boolean => !name.includes('/');

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
    if (app !== undefined && perPrincipal(app)) single.addDimension('app', app);
    single.addDimension('kind', kind);
    single.addMetric(metric, MetricUnit.Count, 1);
    this.metrics.singleMetric().addMetric(metric, MetricUnit.Count, 1);
  }

  /**
   * A ledger row's use after a call was counted in it, against WeChat's limit (its enforced one, or
   * the one it only documents): per app and API (configured apps), and hub-wide as the highest,
   * which the quota alarm reads. Sent as calls are counted: no read per app.
   */
  quota(row: { scope: string; api: string; period: 'day' | 'hour'; limit?: number; knownLimit?: number }, used: number, perApp: boolean): void {
    const limit = row.limit ?? row.knownLimit;
    if (!this.metrics || !limit || row.period !== 'day' || row.scope.startsWith('corp:')) return;
    const percent = Math.round((used / limit) * 1000) / 10;
    if (perApp && perPrincipal(row.scope)) {
      const m = this.metrics.singleMetric();
      m.addDimensions({ app: row.scope, api: row.api });
      m.addMetric('QuotaUsedPercent', MetricUnit.Percent, percent);
    }
    this.gauge('MaxQuotaUsedPercent', 'Percent', percent);
  }

  /** A gauge, hub-wide (the alarms read these). */
  gauge(name: string, unit: 'Seconds' | 'Percent' | 'Count', value: number): void {
    this.metrics?.singleMetric().addMetric(name, MetricUnit[unit], value);
  }

  /** A configured platform's gauge (a handful per deployment, like the apps), per platform. */
  platformGauge(name: string, platform: string, unit: 'Seconds' | 'Count', value: number): void {
    if (!this.metrics) return;
    const single = this.metrics.singleMetric();
    single.addDimension('platform', platform);
    single.addMetric(name, MetricUnit[unit], value);
  }

  /** Whether anything is emitted (Lambda): a gauge that costs a read is not read for nothing. */
  get enabled(): boolean {
    return this.metrics !== undefined;
  }
}
