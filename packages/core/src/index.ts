export * from './errors.js';
export * from './frame/index.js';
export * from './codec/frame-reader.js';
export * from './origin/index.js';
export * from './hpack/index.js';
export * from './proto/index.js';
export * from './http/index.js';
export * from './transport/index.js';
