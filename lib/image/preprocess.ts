/**
 * Preprocessing of one decoded image into one tensor, the way the usual Python pipeline does it:
 * cv2.resize (INTER_LINEAR by default) → cv2.cvtColor → optional pad/crop → `(x * scale - mean) / std` in
 * float32 → NCHW or NHWC. Resizing runs in opencv-js (OpenCV's own fixed-point code, like native cv2); the
 * float math is done through a 256-entry table per channel computed with float32 rounding at each step, so it
 * equals numpy's float32 arithmetic bit for bit.
 */
import type { DecodedImage } from './decode';
import type { OpenCv, CvMat } from './opencv';

import type { ColorOrder, Interpolation, Layout, ResizeMode } from '../options/preprocess';

export type { ColorOrder, Interpolation, Layout, ResizeMode };

/** Fully resolved preprocessing settings (plain data: sent to the workers as is). */
export interface PreprocessConfig {
  /** 3 for bgr/rgb, 1 for gray. */
  channels: 1 | 3;
  /** Height of the tensor's image. */
  height: number;
  /** Width of the tensor's image. */
  width: number;
  /** Channel order of the tensor. */
  color: ColorOrder;
  /** How the image is fitted to height × width. */
  resize: ResizeMode;
  /** Resize interpolation. */
  interp: Interpolation;
  /** Multiplier of the 0-255 pixel, applied first. */
  scale: number;
  /** Per channel, in tensor channel order. */
  mean: number[];
  /** Per channel, in tensor channel order. */
  std: number[];
  /** Memory layout of one image. */
  layout: Layout;
  /** Element type of the tensor. */
  dtype: 'float32' | 'float16';
  /** Letterbox fill, 0–255 pixel value per channel in tensor channel order. */
  padValue: number[];
  /** center-crop: resize so the shorter side has this length first (e.g. 256 for a 224 crop). */
  resizeShorter?: number;
}

/** Where the image went: what a derived input such as im_info is computed from. */
export interface ImageMeta {
  /** The image file. */
  file: string;
  /** Width of the decoded image (after EXIF orientation). */
  width: number;
  /** Height of the decoded image (after EXIF orientation). */
  height: number;
  /** Width after resizing, before padding or cropping. */
  resizedWidth: number;
  /** Height after resizing, before padding or cropping. */
  resizedHeight: number;
  /** resizedWidth / width. */
  scaleX: number;
  /** resizedHeight / height. */
  scaleY: number;
  /** Columns of padding on the left (letterbox). */
  padLeft: number;
  /** Rows of padding on top (letterbox). */
  padTop: number;
  /** Columns cut on the left (center-crop). */
  cropLeft: number;
  /** Rows cut on top (center-crop). */
  cropTop: number;
}

/** An image that cannot be used with these settings (the message is the skip reason). */
export class ImageSkip extends Error {}

/** Round half up, as `math.floor(v + 0.5)` in the Python reference. */
function roundHalfUp(v: number): number {
  return Math.floor(v + 0.5);
}

/** Resize target and pad/crop offsets for an image of `w`×`h` (pure geometry, shared with the reference). */
export function computeGeometry(w: number, h: number, cfg: PreprocessConfig): Omit<ImageMeta, 'file'> {
  const W = cfg.width;
  const H = cfg.height;
  let nw = W;
  let nh = H;
  let padLeft = 0;
  let padTop = 0;
  let cropLeft = 0;
  let cropTop = 0;
  if (cfg.resize === 'letterbox') {
    const r = Math.min(W / w, H / h);
    nw = Math.min(W, Math.max(1, roundHalfUp(w * r)));
    nh = Math.min(H, Math.max(1, roundHalfUp(h * r)));
    padLeft = Math.floor((W - nw) / 2);
    padTop = Math.floor((H - nh) / 2);
  } else if (cfg.resize === 'center-crop') {
    const r = cfg.resizeShorter !== undefined ? cfg.resizeShorter / Math.min(w, h) : Math.max(W / w, H / h);
    nw = Math.max(1, roundHalfUp(w * r));
    nh = Math.max(1, roundHalfUp(h * r));
    if (nw < W || nh < H) throw new ImageSkip(`smaller than the crop: ${w}x${h} resized to ${nw}x${nh} < ${W}x${H}`);
    cropLeft = Math.floor((nw - W) / 2);
    cropTop = Math.floor((nh - H) / 2);
  }
  return {
    width: w,
    height: h,
    resizedWidth: nw,
    resizedHeight: nh,
    scaleX: nw / w,
    scaleY: nh / h,
    padLeft,
    padTop,
    cropLeft,
    cropTop,
  };
}

/** The per-channel lookup table x (0–255) → fround((fround(x*scale) - mean) / std), plus the pad values. */
export function buildTables(cfg: PreprocessConfig): { lut: Float32Array[]; pad: Float32Array } {
  const fs = Math.fround(cfg.scale);
  const f = (x: number, c: number) =>
    Math.fround(Math.fround(Math.fround(Math.fround(x) * fs) - Math.fround(cfg.mean[c])) / Math.fround(cfg.std[c]));
  const lut: Float32Array[] = [];
  const pad = new Float32Array(cfg.channels);
  for (let c = 0; c < cfg.channels; c++) {
    const t = new Float32Array(256);
    for (let x = 0; x < 256; x++) t[x] = f(x, c);
    lut.push(t);
    pad[c] = f(cfg.padValue[c], c);
  }
  return { lut, pad };
}

const INTERP: Record<Interpolation, 'INTER_LINEAR' | 'INTER_AREA' | 'INTER_NEAREST' | 'INTER_CUBIC'> = {
  linear: 'INTER_LINEAR',
  area: 'INTER_AREA',
  nearest: 'INTER_NEAREST',
  cubic: 'INTER_CUBIC',
};

/** Elements of one image's tensor. */
export function imageElements(cfg: PreprocessConfig): number {
  return cfg.channels * cfg.height * cfg.width;
}

/**
 * Preprocesses one decoded image into `out` (float32 values, `imageElements(cfg)` long). Every Mat it makes is
 * deleted before it returns. Throws {@link ImageSkip} for images these settings cannot use.
 */
export function preprocessInto(
  cv: OpenCv,
  img: DecodedImage,
  cfg: PreprocessConfig,
  tables: { lut: Float32Array[]; pad: Float32Array },
  out: Float32Array,
): Omit<ImageMeta, 'file'> {
  const geo = computeGeometry(img.width, img.height, cfg);
  const mats: CvMat[] = [];
  try {
    let cur = new cv.Mat(img.height, img.width, img.channels === 1 ? cv.CV_8UC1 : cv.CV_8UC3);
    mats.push(cur);
    cur.data.set(img.data);
    if (geo.resizedWidth !== img.width || geo.resizedHeight !== img.height) {
      const dst = new cv.Mat(geo.resizedHeight, geo.resizedWidth, cur.channels() === 1 ? cv.CV_8UC1 : cv.CV_8UC3);
      mats.push(dst);
      cv.resize(cur, dst, new cv.Size(geo.resizedWidth, geo.resizedHeight), 0, 0, cv[INTERP[cfg.interp]]);
      cur = dst;
    }
    if (cfg.color === 'gray' && cur.channels() === 3) {
      // Same weights as the reference's COLOR_BGR2GRAY on the BGR image (fixed point, order-independent).
      const gray = new cv.Mat(cur.rows, cur.cols, cv.CV_8UC1);
      mats.push(gray);
      cv.cvtColor(cur, gray, cv.COLOR_RGB2GRAY);
      cur = gray;
    }
    writeTensor(cur.data, cur.cols, cur.rows, cur.channels(), geo, cfg, tables, out);
  } finally {
    for (const m of mats) m.delete();
  }
  return geo;
}

function writeTensor(
  px: Uint8Array,
  sw: number,
  sh: number,
  sc: number,
  geo: Omit<ImageMeta, 'file'>,
  cfg: PreprocessConfig,
  tables: { lut: Float32Array[]; pad: Float32Array },
  out: Float32Array,
): void {
  const { width: W, height: H, channels: C } = cfg;
  const plane = W * H;
  const nchw = cfg.layout === 'nchw';
  const step = nchw ? 1 : C;
  // Columns [x0, x1) of a row come from the image; the others are padding (letterbox).
  const shift = geo.cropLeft - geo.padLeft;
  const x0 = Math.min(W, Math.max(0, -shift));
  const x1 = Math.max(x0, Math.min(W, sw - shift));
  for (let c = 0; c < C; c++) {
    // Source channel of tensor channel c: the pixels are RGB (or one gray channel).
    const s = sc === 1 ? 0 : cfg.color === 'bgr' ? 2 - c : c;
    const lut = tables.lut[c];
    const padv = tables.pad[c];
    for (let y = 0; y < H; y++) {
      const sy = y - geo.padTop + geo.cropTop;
      const rowOut = nchw ? c * plane + y * W : y * W * C + c;
      const inside = sy >= 0 && sy < sh;
      let o = rowOut;
      for (let x = 0; x < (inside ? x0 : W); x++, o += step) out[o] = padv;
      if (!inside) continue;
      // The body without bounds checks: source pixel i = (sy * sw + x + shift) * sc + s.
      for (let x = x0, i = (sy * sw + x0 + shift) * sc + s; x < x1; x++, o += step, i += sc) out[o] = lut[px[i]];
      for (let x = x1; x < W; x++, o += step) out[o] = padv;
    }
  }
}

/** float32 → IEEE half bits, round to nearest even (as numpy's astype(float16)). */
export function toFloat16(src: Float32Array, dst: Uint16Array): void {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    let h: number;
    if (exp === 0xff) {
      h = sign | 0x7c00 | (mant ? 0x200 : 0);
    } else {
      const e = exp - 127 + 15;
      if (e >= 0x1f) {
        h = sign | 0x7c00;
      } else if (e <= 0) {
        if (e < -10) {
          h = sign;
        } else {
          mant |= 0x800000;
          const shift = 14 - e;
          const half = 1 << (shift - 1);
          let m = mant >>> shift;
          const rest = mant & ((1 << shift) - 1);
          if (rest > half || (rest === half && m & 1)) m += 1;
          h = sign | m;
        }
      } else {
        let m = mant >>> 13;
        const rest = mant & 0x1fff;
        let hh = (e << 10) | m;
        if (rest > 0x1000 || (rest === 0x1000 && m & 1)) hh += 1;
        m = hh;
        h = sign | m;
      }
    }
    dst[i] = h;
  }
}
