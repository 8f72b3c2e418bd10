export * from './codec.js';
export * from './errors.js';
export * from './messages.js';
export * from './version.js';
export * from './ids.js';
export * from './limits.js';
