/**
 * Loads @techstark/opencv-js (4.12, a WASM build of OpenCV) and describes the small part of its API the image
 * pipeline uses. Each thread (main or worker) gets its own instance; loading takes ~0.3–0.7 s.
 */

/** An OpenCV Mat as opencv-js exposes it. Every Mat must be `delete()`d: the WASM heap never shrinks. */
export interface CvMat {
  readonly rows: number;
  readonly cols: number;
  /** View of the pixels inside the WASM heap (valid until the next allocation that grows the heap). */
  readonly data: Uint8Array;
  channels(): number;
  delete(): void;
}

/** An OpenCV size. */
export interface CvSize {
  width: number;
  height: number;
}

/** The opencv-js functions and constants the pipeline calls. */
export interface OpenCv {
  Mat: new (rows: number, cols: number, type: number) => CvMat;
  Size: new (width: number, height: number) => CvSize;
  resize(src: CvMat, dst: CvMat, size: CvSize, fx: number, fy: number, interpolation: number): void;
  cvtColor(src: CvMat, dst: CvMat, code: number): void;
  CV_8UC1: number;
  CV_8UC3: number;
  INTER_NEAREST: number;
  INTER_LINEAR: number;
  INTER_CUBIC: number;
  INTER_AREA: number;
  COLOR_RGB2GRAY: number;
}

let loading: Promise<{ cv: OpenCv }> | undefined;

/**
 * Loads opencv-js once per thread, resolving with `{ cv }`. The 4.x module is a thenable whose `then` calls
 * back with itself, so a Promise resolved with it (including returning it from `then` or an async function)
 * never settles: always pass the wrapper around and unwrap where it is used.
 */
export function loadOpenCv(): Promise<{ cv: OpenCv }> {
  if (!loading) {
    loading = new Promise<{ cv: OpenCv }>((resolve, reject) => {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const mod = require('@techstark/opencv-js') as OpenCv & { onRuntimeInitialized?: () => void; then?: unknown };
        if (typeof mod.Mat === 'function') resolve({ cv: mod });
        else mod.onRuntimeInitialized = () => resolve({ cv: mod });
      } catch (err) {
        reject(err);
      }
    });
  }
  return loading;
}
