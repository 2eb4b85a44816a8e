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
} from './agent.js';
export { describeAgentEvent, formatDelay, type AgentEvent } from './agent-events.js';
export { backoffDelay, DEFAULT_BACKOFF, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS, DEFAULT_REFUSED_BACKOFF_MS, DEFAULT_HEALTHY_AFTER_MS, type BackoffPolicy } from './backoff.js';
export { describeConnectError, H2_REVERSE_ALPN } from './connect-errors.js';
export { loadHandlerModule, toFetchHandler, type FetchHandler, type FetchHandlerLike } from './handler-module.js';
export { HttpUpstream, DEFAULT_UPSTREAM_HEADERS_TIMEOUT_MS, type HttpUpstreamOptions } from './upstream.js';
