/**
 * Sample: a small HTTP service that calibrates on request and streams progress (server-sent events),
 * the way a deployment service embeds trt-calibrator. Calibrations run while the server keeps answering:
 * decoding, ONNX Runtime and the calibrator all run off the event loop.
 *
 *   POST /calibrate {"model": "...onnx", "images": "dir", "options": {...}}  -> text/event-stream:
 *        event: progress  data: {"batchesDone":3,"totalBatches":8,"imagesPerSecond":41.2}
 *        event: done      data: {"cachePath":"...","tensors":216,...}
 *        event: error     data: {"code":"ERR_NO_DATA","message":"..."}
 *   GET /health -> 200 "ok" (answered at once, also during a calibration)
 * A client that disconnects aborts its calibration (nothing is written).
 *
 * Run: node dist-samples/samples/calibration-service.js [port]
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { calibrate, type CalibrateOptions } from '../lib/calibrate';
import { errorCode } from '../lib/errors';

/** Starts the service on `port` (0 picks a free one) and resolves with the server once it listens. */
export function startService(port = 0): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      res.end('ok');
      return;
    }
    if (req.method !== 'POST' || req.url !== '/calibrate') {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => void handle(body, res));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function handle(body: string, res: http.ServerResponse): Promise<void> {
  let request: { model?: unknown; images?: unknown; options?: CalibrateOptions };
  try {
    request = JSON.parse(body) as typeof request;
  } catch {
    res.statusCode = 400;
    res.end('body must be JSON {"model", "images", "options"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const controller = new AbortController();
  res.on('close', () => controller.abort(new Error('client disconnected')));
  try {
    const result = await calibrate(String(request.model), String(request.images), {
      ...(request.options ?? {}),
      signal: controller.signal,
      onProgress: (p) => send('progress', p),
    });
    send('done', {
      cachePath: result.cachePath,
      tensors: Object.keys(result.tensors).length,
      images: result.images.used,
      skipped: result.images.skipped.length,
      fromCache: result.fromCache,
      warnings: result.warnings,
      seconds: result.timings.totalMs / 1000,
    });
  } catch (err) {
    send('error', { code: errorCode(err) ?? 'ERR_INTERNAL', message: (err as Error).message });
  }
  res.end();
}

if (require.main === module) {
  void startService(Number(process.argv[2] ?? 8080)).then((server) => {
    console.log(`calibration service on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
}
