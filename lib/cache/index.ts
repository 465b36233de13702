/** The calibration cache toolkit: parse/format, decode, compatibility check, diff and conversions. */
export * from './version';
export * from './format';
export * from './decode';
export * from './compat';
export * from './diff';
export * from './convert';
