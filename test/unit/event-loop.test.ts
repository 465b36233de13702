/**
 * ownTurn (lib/util/event-loop.ts): callers that yield at the same moment get turns of the event loop of their own,
 * so that timers run between their steps; with plain setImmediate they would run back to back.
 */
import { ownTurn } from '../../lib/util/event-loop';

/** Two steps of `ms` each, both waiting on `yieldFn` from the same moment, and a 1 ms timer: the order they ran in. */
async function race(yieldFn: () => Promise<void>, ms: number): Promise<string[]> {
  // Start from a timers phase: the 1 ms timer set below cannot run before the next one, which comes after the
  // check phase where the first setImmediate fires, however long any of it takes.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const order: string[] = [];
  const step = async (name: string) => {
    await yieldFn();
    order.push(name);
    for (const t0 = performance.now(); performance.now() - t0 < ms;);
  };
  setTimeout(() => order.push('timer'), 1);
  await Promise.all([step('a'), step('b')]);
  await new Promise((resolve) => setTimeout(resolve, 5));
  return order;
}

describe('ownTurn', () => {
  it('gives callers waiting at once turns of their own: a due timer runs between their steps', async () => {
    expect(await race(ownTurn, 3)).toEqual(['a', 'timer', 'b']);
    // The reason for it: setImmediate runs both in the same turn, and the timer waits for both steps.
    expect(await race(() => new Promise((resolve) => setImmediate(resolve)), 3)).toEqual(['a', 'b', 'timer']);
  });

  it('serves callers in the order they asked, also when a step asks again', async () => {
    const order: string[] = [];
    const worker = async (name: string) => {
      for (let i = 0; i < 3; i++) {
        await ownTurn();
        order.push(`${name}${i}`);
      }
    };
    await Promise.all([worker('a'), worker('b')]);
    expect(order).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  });
});
