export * from './intermediary.js';
export * from './agent-session.js';
export * from './browser-exchange.js';
export * from './browser-listeners.js';
