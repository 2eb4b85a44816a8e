export * from './origin.js';
export * from './certificate.js';
export * from './origin-set.js';
