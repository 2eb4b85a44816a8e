export * from './errors.js';
export * from './frame/types.js';
