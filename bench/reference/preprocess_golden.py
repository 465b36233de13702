#!/usr/bin/env python3
"""Golden tensors for the image pipeline's parity tests.

Generates a handful of small images (JPEG, EXIF-rotated JPEG, PNG 8/16-bit, gray, RGBA, WebP, TIFF, GIF) into
test/fixtures/golden/images/, runs the usual Python preprocessing on them (cv2.imread -> cv2.resize ->
cv2.cvtColor -> pad/crop -> numpy float32 math -> transpose) and writes one .npy per case plus manifest.json.
test/pipeline/image-parity.test.ts runs ImageBatchFactory on the same files and options and compares.

Run from the repository root:  python3 bench/reference/preprocess_golden.py
Needs numpy and opencv-python (cv2 >= 4.11 for GIF).
"""
import json
import math
import os
import struct
import sys

import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'golden')
IMAGES = os.path.join(OUT, 'images')

INTERP = {'linear': cv2.INTER_LINEAR, 'area': cv2.INTER_AREA, 'nearest': cv2.INTER_NEAREST, 'cubic': cv2.INTER_CUBIC}


def pattern(h, w, seed):
    """A deterministic photo-like BGR uint8 image: gradients, a sine texture, edges and noise."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    b = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    r = 128 + 100 * np.sin(x / 3.7 + y / 5.3)
    img = np.stack([b, g, r], -1) + rng.normal(0, 12, (h, w, 3))
    img[h // 3: h // 2, w // 4: w // 2] = (30, 200, 90)  # a sharp-edged block
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def exif_orientation_segment(orientation):
    """A minimal APP1 Exif segment holding only the Orientation tag (big-endian TIFF)."""
    tiff = b'MM\x00\x2a' + struct.pack('>I', 8) + struct.pack('>H', 1)
    tiff += struct.pack('>HHIHH', 0x0112, 3, 1, orientation, 0) + struct.pack('>I', 0)
    payload = b'Exif\x00\x00' + tiff
    return b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload


def write_images():
    os.makedirs(IMAGES, exist_ok=True)
    files = {}

    def put(name, data):
        with open(os.path.join(IMAGES, name), 'wb') as f:
            f.write(data)
        files[name] = name

    def enc(ext, img, params=()):
        ok, buf = cv2.imencode(ext, img, list(params))
        assert ok, ext
        return buf.tobytes()

    put('a-photo.jpg', enc('.jpg', pattern(61, 97, 1), [cv2.IMWRITE_JPEG_QUALITY, 90]))
    # EXIF orientation 6 (rotate 90 degrees clockwise to display): stored 40x64, shown 64x40.
    jpg = enc('.jpg', pattern(40, 64, 2), [cv2.IMWRITE_JPEG_QUALITY, 92])
    put('b-exif-rot90.jpg', jpg[:2] + exif_orientation_segment(6) + jpg[2:])
    put('c-plain.png', enc('.png', pattern(50, 70, 3)))
    wide = pattern(45, 60, 4).astype(np.uint16) * 257 + np.random.RandomState(5).randint(0, 256, (45, 60, 3)).astype(np.uint16)
    put('d-16bit.png', enc('.png', wide))
    put('e-gray.png', enc('.png', cv2.cvtColor(pattern(48, 64, 6), cv2.COLOR_BGR2GRAY)))
    bgra = np.concatenate([pattern(40, 52, 7), np.random.RandomState(8).randint(0, 256, (40, 52, 1)).astype(np.uint8)], -1)
    put('f-rgba.png', enc('.png', bgra))
    put('g-lossless.webp', enc('.webp', pattern(36, 58, 9), [cv2.IMWRITE_WEBP_QUALITY, 101]))
    put('h-plain.tiff', enc('.tiff', pattern(44, 66, 10)))
    put('i-anim.gif', enc('.gif', pattern(30, 40, 11)))
    put('j-tiny.png', enc('.png', pattern(12, 15, 12)))
    put('k-large.jpg', enc('.jpg', pattern(240, 320, 13), [cv2.IMWRITE_JPEG_QUALITY, 85]))
    return sorted(files)


def round_half_up(v):
    return int(math.floor(v + 0.5))


def reference(path, o):
    """The pipeline a Python user writes, with the options' semantics documented in the README."""
    c, H, W = o['shape']
    color = o.get('color', 'bgr')
    resize = o.get('resize', 'stretch')
    img = cv2.imread(path, cv2.IMREAD_COLOR)  # BGR uint8, EXIF orientation applied, alpha dropped
    assert img is not None, path
    h, w = img.shape[:2]
    nw, nh, left, top, cl, ct = W, H, 0, 0, 0, 0
    if resize == 'letterbox':
        r = min(W / w, H / h)
        nw, nh = min(W, max(1, round_half_up(w * r))), min(H, max(1, round_half_up(h * r)))
        left, top = (W - nw) // 2, (H - nh) // 2
    elif resize == 'center-crop':
        r = o['resizeShorter'] / min(w, h) if 'resizeShorter' in o else max(W / w, H / h)
        nw, nh = max(1, round_half_up(w * r)), max(1, round_half_up(h * r))
        cl, ct = (nw - W) // 2, (nh - H) // 2
    if (nw, nh) != (w, h):
        img = cv2.resize(img, (nw, nh), interpolation=INTERP[o.get('interp', 'linear')])
    if color == 'rgb':
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif color == 'gray':
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[:, :, None]
    if resize == 'letterbox':
        pad = o.get('padValue', 0)
        pad = [pad] * c if not isinstance(pad, list) else pad
        img = cv2.copyMakeBorder(img, top, H - nh - top, left, W - nw - left, cv2.BORDER_CONSTANT, value=pad + [0] * (4 - c))
        img = img.reshape(H, W, c)
    elif resize == 'center-crop':
        img = img[ct:ct + H, cl:cl + W]
    x = img.astype(np.float32)
    mean = np.broadcast_to(np.array(o.get('mean', 0), np.float32), (c,))
    std = np.broadcast_to(np.array(o.get('std', 1), np.float32), (c,))
    y = (x * np.float32(o.get('scale', 1)) - mean) / std
    if o.get('layout', 'nchw') == 'nchw':
        y = y.transpose(2, 0, 1)
    if o.get('dtype', 'float32') == 'float16':
        y = y.astype(np.float16)
    return np.ascontiguousarray(y)


IMAGENET = {'color': 'rgb', 'scale': 1 / 255, 'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225]}
SEED_BGR = {'color': 'bgr', 'scale': 1.0, 'mean': [102.9801, 115.9465, 122.7717]}


def cases(images):
    base = {'shape': [3, 24, 32]}
    out = []
    for im in images:  # every image with the defaults and with ImageNet normalization
        out.append((im, dict(base)))
        out.append((im, dict(base, **IMAGENET)))
    photo, large, tiny = 'a-photo.jpg', 'k-large.jpg', 'j-tiny.png'
    for im in (photo, large, tiny):
        for interp in ('area', 'nearest', 'cubic'):
            out.append((im, dict(base, interp=interp)))
    out += [
        (photo, dict(base, color='gray', shape=[1, 24, 32])),
        (large, dict(base, color='gray', shape=[1, 24, 32], scale=1 / 255, mean=0.5, std=0.5)),
        (photo, dict(base, resize='letterbox', padValue=114)),
        (large, dict(base, resize='letterbox', padValue=[0, 128, 255], shape=[3, 32, 24])),
        ('b-exif-rot90.jpg', dict(base, resize='letterbox', **IMAGENET)),
        (photo, dict(base, resize='center-crop')),
        (large, dict(base, resize='center-crop', resizeShorter=40, **IMAGENET)),
        ('e-gray.png', dict(base, resize='center-crop', shape=[3, 30, 20], color='rgb')),
        (photo, dict(base, layout='nhwc', **IMAGENET)),
        (large, dict(base, layout='nhwc', color='gray', shape=[1, 24, 32])),
        (photo, dict(base, dtype='float16', **IMAGENET)),
        (large, dict(base, shape=[3, 60, 80], **SEED_BGR)),
        (tiny, dict(base, shape=[3, 40, 48], **SEED_BGR)),
        # Odd vertical remainders (70x50 letterboxed to 32x23: 1 row of padding; 40x64 shown, resized to 32x51
        # and cropped to 24 rows: 27 rows cut), where rounding the top offset up instead of down shows.
        ('c-plain.png', dict(base, resize='letterbox', padValue=114)),
        ('b-exif-rot90.jpg', dict(base, resize='center-crop')),
    ]
    return out


def main():
    images = write_images()
    manifest = {'opencv': cv2.__version__, 'numpy': np.__version__, 'cases': []}
    for i, (im, opts) in enumerate(cases(images)):
        y = reference(os.path.join(IMAGES, im), opts)
        name = f'case-{i:03d}.npy'
        np.save(os.path.join(OUT, name), y)
        manifest['cases'].append({'image': im, 'options': opts, 'npy': name, 'shape': list(y.shape), 'dtype': str(y.dtype)})
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f'{len(manifest["cases"])} cases, {len(images)} images, {total} bytes in {os.path.relpath(OUT, ROOT)}', file=sys.stderr)


if __name__ == '__main__':
    main()
