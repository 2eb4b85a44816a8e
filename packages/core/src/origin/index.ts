export * from './origin.js';
export * from './certificate.js';
