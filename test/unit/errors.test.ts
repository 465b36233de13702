import {
  TrtCalibratorError,
  errorCode,
  invalidOption,
  isTrtCalibratorError,
  rejectUnknownOptions,
} from '../../lib/errors';

describe('errors', () => {
  it('carries a stable code, name and details', () => {
    const err = new TrtCalibratorError('ERR_CACHE_FORMAT', 'bad line', { details: { line: 3 } });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('TrtCalibratorError');
    expect(err.code).toBe('ERR_CACHE_FORMAT');
    expect(err.details).toEqual({ line: 3 });
    expect(isTrtCalibratorError(err, 'ERR_CACHE_FORMAT')).toBe(true);
    expect(isTrtCalibratorError(err, 'ERR_IO')).toBe(false);
    expect(errorCode(err)).toBe('ERR_CACHE_FORMAT');
  });

  it('reports a wrong type as a TypeError with the house message shape', () => {
    const err = invalidOption('batchSize', 'a positive integer', 'eight');
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_INVALID_OPTION');
    expect(err.message).toBe('Expected a positive integer for batchSize but received "eight" of type string');
    expect(errorCode(err)).toBe('ERR_INVALID_OPTION');
  });

  it('reports a bad value as a RangeError', () => {
    const err = invalidOption('percentile', 'a number in (0, 100]', 101, 'range');
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe('Expected a number in (0, 100] for percentile but received 101 of type number');
  });

  it('suggests the closest option name for a misspelling', () => {
    expect(() => rejectUnknownOptions('calibrate()', { limt: 3 }, ['limit', 'batchSize'])).toThrow(
      'Unknown option "limt" for calibrate() (did you mean "limit"?)',
    );
    expect(() => rejectUnknownOptions('calibrate()', { zzzzzz: 3 }, ['limit'])).toThrow(
      /Unknown option "zzzzzz" for calibrate\(\)$/,
    );
  });
});
