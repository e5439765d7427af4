import { planLabels } from '../../src/phases/label.js';

const T = ['env-a-2020_01_01', 'env-a-2020_01_02', 'env-a-2020_01_03', 'env-a-2020_01_04'];
const progression = { nextOnly: false };

test('progression from nothing sets next only', () => {
  expect(planLabels({}, T[0], progression)).toEqual({ next: { before: undefined, after: T[0] } });
});

test('progression moves next to current and current to previous', () => {
  expect(planLabels({ previous: T[0], current: T[1], next: T[2] }, T[3], progression)).toEqual({
    previous: { before: T[0], after: T[1] },
    current: { before: T[1], after: T[2] },
    next: { before: T[2], after: T[3] },
  });
});

test("a missing label moves as missing, like the old tool's file moves", () => {
  // current set, next missing: current moves to previous, and current is removed
  expect(planLabels({ current: T[0] }, T[1], progression)).toEqual({
    previous: { before: undefined, after: T[0] },
    current: { before: T[0], after: undefined },
    next: { before: undefined, after: T[1] },
  });
});

test('labelling the tag that already is next changes nothing', () => {
  expect(planLabels({ current: T[0], next: T[1] }, T[1], progression)).toEqual({});
});

test('next-only and a named label touch one label', () => {
  expect(planLabels({ current: T[0], next: T[1] }, T[2], { nextOnly: true })).toEqual({ next: { before: T[1], after: T[2] } });
  expect(planLabels({ 'pre-prod': T[0] }, T[2], { nextOnly: false, label: 'pre-prod' })).toEqual({
    'pre-prod': { before: T[0], after: T[2] },
  });
  expect(planLabels({ 'pre-prod': T[2] }, T[2], { nextOnly: false, label: 'pre-prod' })).toEqual({});
});
