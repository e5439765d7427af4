import { Slots, mapLimit } from '../../src/installer/concurrency.js';

test('results come back in input order, with never more than `limit` running', async () => {
  let running = 0;
  let most = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n, i) => {
    running++;
    most = Math.max(most, running);
    for (let k = 0; k < n; k++) await Promise.resolve();
    running--;
    return `${i}:${n}`;
  });
  expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3', '5:0']);
  expect(most).toBe(2);
});

test('the first failure is reported once everything already started has finished; nothing new starts', async () => {
  const started: number[] = [];
  const finished: number[] = [];
  const err = await mapLimit([0, 1, 2, 3, 4], 2, async (n) => {
    started.push(n);
    for (let k = 0; k < 3; k++) await Promise.resolve();
    if (n === 1) throw new Error('boom 1');
    finished.push(n);
    return n;
  }).catch((e: Error) => e);
  expect((err as Error).message).toBe('boom 1');
  expect(started).toEqual([0, 1, 2]);
  expect(finished).toEqual([0, 2]);
});

test('an empty list gives an empty result', async () => {
  expect(await mapLimit([], 4, async () => 1)).toEqual([]);
});

test('Slots: never more than the limit at once, every call runs, in arrival order, a failure frees its slot', async () => {
  const slots = new Slots(2);
  let active = 0;
  let most = 0;
  const started: number[] = [];
  const calls = Array.from({ length: 7 }, (_, i) =>
    slots.run(async () => {
      started.push(i);
      active++;
      most = Math.max(most, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      if (i === 3) throw new Error('three');
      return i;
    }),
  );
  const settled = await Promise.allSettled(calls);
  expect(most).toBe(2);
  expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([0, 1, 2, 'three', 4, 5, 6]);
  expect(await slots.run(async () => 'after')).toBe('after');
});
