/**
 * Yielding the JS thread between steps of work that take a few ms each (decoding a model in slices, preparing the
 * calibration model, reading histograms). `setImmediate` alone is not enough when several calibrations run at once:
 * continuations queued in the same turn of the event loop all run in that turn's check phase, back to back, and
 * the timers (and a service's requests) wait for all of them. Two calibrations started together reach the same steps
 * at the same time, so their steps would add up (bench/event-loop/RESULTS.md). Here each caller gets a turn of the
 * event loop of its own: callers are served one per turn, in the order they asked.
 */

let last: Promise<void> = Promise.resolve();

/**
 * Resolves in a turn of the event loop after the current one (a `setImmediate`), and in a different turn from every
 * other pending caller's. Await it before a step of a few ms on the JS thread.
 */
export function ownTurn(): Promise<void> {
  // The next caller's setImmediate is queued only once this one's has fired, during that turn's check phase: it
  // fires in the following turn, after the timers.
  const turn = last.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  last = turn;
  return turn;
}
