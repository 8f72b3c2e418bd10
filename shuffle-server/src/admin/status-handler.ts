// GET /api/v1/status: what the server is and holds, in one answer.
import { crc32cImplementation } from '../../../native/ts/crc32c.js';
import { nativeStatus } from '../../../native/ts/index.js';
import { PEGASUS_VERSION } from '../../../schemas/ts/version.js';
import type { ServerStatus } from '../../../schemas/ts/admin-api.js';
import type { AdminContext } from './context.js';

export function getStatus(ctx: AdminContext): ServerStatus {
  const { service: svc, metrics } = ctx;
  const { budget, tiers } = svc.engine;
  const native = nativeStatus();
  const ucx = ctx.ucxState();
  const now = Date.now();
  return {
    version: PEGASUS_VERSION,
    pid: process.pid,
    startedAtMs: metrics.startedAtMs,
    uptimeMs: now - metrics.startedAtMs,
    host: ctx.cfg.host,
    port: ctx.port(),
    memory: { budgetBytes: budget.budgetBytes, usedBytes: budget.used, waitingBytes: budget.waiting },
    diskUsedBytes: svc.diskBytes(),
    tiers: tiers.tiers.map((t) => ({
      tier: t.label, kind: t.kind, path: t.path, capacityBytes: t.capacityBytes, usedBytes: t.usedBytes,
      // Before the first statfs the free bytes are unknown: 0, as /metrics says.
      freeBytes: t.freeBytes === Number.MAX_SAFE_INTEGER ? 0 : t.freeBytes,
      pmemWrites: t.writesThroughPmem,
    })),
    apps: svc.apps.size,
    shuffles: svc.apps.shuffleCount,
    connections: ctx.connections(),
    native: { loaded: native.loaded, reason: native.reason, crc32c: crc32cImplementation },
    ucx: {
      enabled: ucx.enabled, port: ucx.port, reason: ucx.reason,
      endpoints: metrics.registry.sample('pegasus_ucx_endpoints') ?? 0,
      registeredBytes: metrics.registry.sample('pegasus_ucx_registered_bytes') ?? 0,
    },
    decommission: svc.decommissionStatus(),
  };
}
