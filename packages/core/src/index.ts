export * from './errors.js';
export * from './frame/index.js';
export * from './codec/frame-reader.js';
export * from './origin/index.js';
export * from './hpack/index.js';
