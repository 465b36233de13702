import {
  builderSettings,
  needsProfile,
  resolveInputProfiles,
  validateCalibrationShapes,
} from '../../lib/backends/tensorrt';
import { engineBuildOptions } from '../../lib/backends/tensorrt/engine';

const image = { name: 'x', dims: ['N', 3, 'H', 'W'] };
const fixed = { name: 'im_info', dims: [1, 3] };

describe('TensorRT optimization profile from options', () => {
  it('fixed inputs keep their declared shape and need no profile', () => {
    const p = resolveInputProfiles([fixed]);
    expect(p).toEqual([{ name: 'im_info', dynamic: false, min: [1, 3], opt: [1, 3], max: [1, 3] }]);
    expect(needsProfile(p)).toBe(false);
  });

  it('symbolic dims take min/opt/max from inputShapes; one shape means min = opt = max', () => {
    const p = resolveInputProfiles([image, fixed], {
      x: { min: [1, 3, 320, 320], opt: [8, 3, 640, 640], max: [16, 3, 960, 960] },
      im_info: [1, 3],
    });
    expect(p[0]).toEqual({
      name: 'x',
      dynamic: true,
      min: [1, 3, 320, 320],
      opt: [8, 3, 640, 640],
      max: [16, 3, 960, 960],
    });
    expect(p[1].opt).toEqual([1, 3]);
    expect(needsProfile(p)).toBe(true);
    expect(resolveInputProfiles([image], { x: [4, 3, 224, 224] })[0]).toMatchObject({
      min: [4, 3, 224, 224],
      max: [4, 3, 224, 224],
    });
  });

  it('treats -1 and null dims as runtime dims', () => {
    expect(() => resolveInputProfiles([{ name: 'x', dims: [-1, 3, 224, 224] }])).toThrow(
      /runtime dimensions \[-1, 3, 224, 224\]/,
    );
    expect(() => resolveInputProfiles([{ name: 'x', dims: [null, 3] }])).toThrow(/\[\?, 3\]/);
    expect(() => resolveInputProfiles([{ name: 'x', dims: undefined }])).toThrow(/no declared shape/);
  });

  it('rejects a missing shape for a dynamic input with ERR_INPUT_SHAPE naming the input', () => {
    expect(() => resolveInputProfiles([image])).toThrow(
      expect.objectContaining({ code: 'ERR_INPUT_SHAPE', details: expect.objectContaining({ input: 'x' }) }),
    );
  });

  it('rejects a shape for an input the model does not have, with a spelling hint', () => {
    expect(() => resolveInputProfiles([image], { X: [1, 3, 2, 2], x: [1, 3, 2, 2] })).toThrow(
      /inputShapes names "X", which is not a model input/,
    );
    expect(() => resolveInputProfiles([{ name: 'images', dims: [1, 3] }], { image: [1, 3] })).toThrow(
      /did you mean "images"/,
    );
  });

  it('rejects shapes that contradict fixed dims, have the wrong rank or are not min <= opt <= max', () => {
    expect(() => resolveInputProfiles([image], { x: [1, 4, 2, 2] })).toThrow(/dimension 1 is fixed at 3/);
    expect(() => resolveInputProfiles([image], { x: [1, 3, 2] })).toThrow(/rank 4/);
    expect(() =>
      resolveInputProfiles([image], { x: { min: [8, 3, 2, 2], opt: [4, 3, 2, 2], max: [16, 3, 2, 2] } }),
    ).toThrow(/min <= opt <= max/);
    expect(() =>
      resolveInputProfiles([image], { x: { min: [1, 3, 2], opt: [4, 3, 2, 2], max: [16, 3, 2, 2] } }),
    ).toThrow(/same rank/);
  });

  it('rejects wrongly typed shapes with ERR_INVALID_OPTION', () => {
    expect(() => resolveInputProfiles([image], { x: 'big' })).toThrow(TypeError);
    expect(() => resolveInputProfiles([image], { x: [1, 3, 0, 2] })).toThrow(RangeError);
    expect(() =>
      resolveInputProfiles([image], { x: { min: [1, 3, 2, 2], opt: [1.5, 3, 2, 2], max: [2, 3, 2, 2] } }),
    ).toThrow(/Expected an array of positive integers for inputShapes.x.opt/);
    expect(() => resolveInputProfiles([image], [])).toThrow(/inputShapes/);
  });

  it('calibration batches must have exactly the OPT shape (TensorRT calibrates at OPT only)', () => {
    const p = resolveInputProfiles([image, fixed], {
      x: { min: [1, 3, 64, 64], opt: [8, 3, 128, 128], max: [16, 3, 256, 256] },
    });
    expect(() =>
      validateCalibrationShapes(p, [
        { name: 'im_info', shape: [1, 3] },
        { name: 'x', shape: [8, 3, 128, 128] },
      ]),
    ).not.toThrow();
    expect(() =>
      validateCalibrationShapes(p, [
        { name: 'x', shape: [16, 3, 128, 128] },
        { name: 'im_info', shape: [1, 3] },
      ]),
    ).toThrow(/shape \[16, 3, 128, 128\] but TensorRT calibrates at the profile's OPT shape \[8, 3, 128, 128\]/);
    expect(() => validateCalibrationShapes(p, [{ name: 'x', shape: [8, 3, 128, 128] }])).toThrow(
      expect.objectContaining({ code: 'ERR_INPUT_NAME' }),
    );
    expect(() =>
      validateCalibrationShapes(p, [
        { name: 'x', shape: [8, 3, 128, 128] },
        { name: 'im_info', shape: [1, 3] },
        { name: 'extra', shape: [1] },
      ]),
    ).toThrow(/"extra", which is not a model input/);
  });
});

describe('TensorRT profile values of shape-tensor inputs', () => {
  const shapeInput = { name: 'target_shape', dims: [4] };

  it('passes min/opt/max values with the shapes (one list means min = opt = max) and needs a profile', () => {
    const [p] = resolveInputProfiles([shapeInput], {
      target_shape: {
        min: [4],
        opt: [4],
        max: [4],
        values: { min: [1, 3, 8, 8], opt: [4, 3, 16, 16], max: [8, 3, 32, 32] },
      },
    });
    expect(p).toEqual({
      name: 'target_shape',
      dynamic: false,
      min: [4],
      opt: [4],
      max: [4],
      values: { min: [1, 3, 8, 8], opt: [4, 3, 16, 16], max: [8, 3, 32, 32] },
    });
    expect(needsProfile([p])).toBe(true);
    expect(
      resolveInputProfiles([shapeInput], { target_shape: { min: [4], opt: [4], max: [4], values: [1, 2, 3, 4] } })[0]
        .values,
    ).toEqual({ min: [1, 2, 3, 4], opt: [1, 2, 3, 4], max: [1, 2, 3, 4] });
  });

  it('refuses values of the wrong count, out of order, beyond int32 or of the wrong type, and unknown keys', () => {
    const at = (values: unknown) => () =>
      resolveInputProfiles([shapeInput], { target_shape: { min: [4], opt: [4], max: [4], values } as never });
    expect(at([1, 2, 3])).toThrow(
      expect.objectContaining({
        code: 'ERR_INPUT_SHAPE',
        message: expect.stringMatching(/3 element\(s\) but the input \[4\] has 4/),
      }),
    );
    expect(at({ min: [2, 2, 2, 2], opt: [1, 2, 2, 2], max: [3, 3, 3, 3] })).toThrow(
      /value 0 must satisfy min <= opt <= max/,
    );
    expect(at([1, 2, 3, 2 ** 31])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', name: 'RangeError' }));
    expect(at([1, 2, 3, 1.5])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(at('1,2,3,4')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', name: 'TypeError' }));
    expect(() =>
      resolveInputProfiles([shapeInput], { target_shape: { min: [4], opt: [4], max: [4], value: [1] } as never }),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', option: 'inputShapes.target_shape' }));
  });

  it('hands the values to the native engine options', () => {
    const o = engineBuildOptions(
      'model.onnx',
      [{ name: 'target_shape', dims: [4], shape: [4] }],
      { target_shape: { min: [4], opt: [4], max: [4], values: [2, 3, 4, 5] } },
      builderSettings({}),
      { inspectLayers: true },
    );
    expect(o.inputShapes).toEqual([
      {
        name: 'target_shape',
        min: [4],
        opt: [4],
        max: [4],
        values: { min: [2, 3, 4, 5], opt: [2, 3, 4, 5], max: [2, 3, 4, 5] },
      },
    ]);
    expect(o.inspectLayers).toBe(true);
    expect(o.explicitQuantization).toBeUndefined();
  });
});
