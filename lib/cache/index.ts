/** The calibration cache toolkit: parse/format, decode, compatibility check, diff and conversions. */
export * from './version';
export * from './format';
export * from './decode';
export { checkCacheCompatibility, type CacheCompatibility, type CacheCompatibilityOptions } from './compat';
export * from './diff';
export * from './convert';
