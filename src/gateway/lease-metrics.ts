import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Ownership-lease metrics (docs/operations.md, "Scaling out"). A renewal round that fails
 * for longer than the TTL lets other instances take this one's sessions: alert on
 * `storyteller_lease_renewal_age_seconds` approaching the TTL, and on takeovers (each one
 * is an instance that stopped renewing — a crash, a partition, a stalled event loop).
 *
 * storyteller_lease_renewals_total{outcome}      ok | error (one per renew round)
 * storyteller_lease_takeovers_total{outcome}     ok | error (expired sessions claimed here and opened, or not)
 * storyteller_lease_held_sessions                live sessions this instance renews
 * storyteller_lease_renewal_age_seconds          since the last successful renewal (the lease TTL when none yet)
 */
export interface LeaseMetrics {
  renewals: Counter<'outcome'>;
  takeovers: Counter<'outcome'>;
}

export function createLeaseMetrics(registry: Registry, read: () => { held: number; renewalAgeS: number }): LeaseMetrics {
  const existing = registry.getSingleMetric('storyteller_lease_renewals_total') as Counter<'outcome'> | undefined;
  if (existing) return { renewals: existing, takeovers: registry.getSingleMetric('storyteller_lease_takeovers_total') as Counter<'outcome'> };
  new Gauge({ name: 'storyteller_lease_held_sessions', help: 'Live sessions whose ownership lease this instance renews', registers: [registry], collect() { this.set(read().held); } });
  new Gauge({ name: 'storyteller_lease_renewal_age_seconds', help: 'Seconds since this instance last renewed its leases', registers: [registry], collect() { this.set(read().renewalAgeS); } });
  return {
    renewals: new Counter({ name: 'storyteller_lease_renewals_total', help: 'Ownership lease renewal rounds by outcome', labelNames: ['outcome'], registers: [registry] }),
    takeovers: new Counter({ name: 'storyteller_lease_takeovers_total', help: 'Sessions of instances that stopped renewing, taken over here, by outcome', labelNames: ['outcome'], registers: [registry] }),
  };
}
