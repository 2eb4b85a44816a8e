export * from './intermediary.js';
export * from './agent-session.js';
export * from './browser-exchange.js';
export * from './browser-listeners.js';
export * from './log-format.js';
export * from './metrics.js';
export * from './status-page.js';
export * from './svcb-record.js';
