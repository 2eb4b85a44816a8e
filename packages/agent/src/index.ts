/**
 * rhttp-agent: the origin side of Reverse HTTP. See {@link Agent}.
 */
export {
  Agent,
  parseIntermediary,
  DEFAULT_CONNECTIONS,
  MAX_CONNECTIONS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  type AgentOptions,
  type AgentStatus,
  type ConnectionStatus,
  type IntermediaryAddress,
  type AgentMetrics,
  MIN_DISCOVERY_TTL_S,
  MAX_DISCOVERY_TTL_S,
} from './agent.js';
export { describeAgentEvent, formatDelay, agentEventLevel, agentLogRecord, type AgentEvent, type AgentEventLevel, type AgentLogRecord } from './agent-events.js';
export { resolveIntermediary, discoverIntermediaryDetails, formatDiscovery, parseBareIntermediary, type BareIntermediary, type ResolveOptions } from './discover.js';
export { loadAgentConfig, parseAgentConfig, ConfigError, type AgentConfig } from './config.js';
export { IngressRouter, matchIngress, ingressOrigins, parseIngressService, checkIngressHostname, type IngressRule, type IngressService } from './ingress.js';
export { renderAgentMetrics, PROMETHEUS_CONTENT_TYPE } from './metrics.js';
export { serveMetrics, parseListenAddress, METRICS_PATH, type MetricsServer } from './metrics-server.js';
export { renderSystemdUnit, installSystemdUnit, uninstallSystemdUnit, runtimeCommand, DEFAULT_UNIT_DIR, DEFAULT_SERVICE_NAME, type SystemdUnitOptions } from './service.js';
export { backoffDelay, DEFAULT_BACKOFF, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS, DEFAULT_REFUSED_BACKOFF_MS, DEFAULT_HEALTHY_AFTER_MS, type BackoffPolicy } from './backoff.js';
export { describeConnectError, H2_REVERSE_ALPN } from './connect-errors.js';
export { TlsMaterialError, type TlsMaterialProblem, type TlsMaterialNames } from './carriers/tls.js';
export { loadHandlerModule, toFetchHandler, type FetchHandler, type FetchHandlerLike } from './handler-module.js';
export { HttpUpstream, DEFAULT_UPSTREAM_HEADERS_TIMEOUT_MS, type HttpUpstreamOptions } from './upstream.js';
