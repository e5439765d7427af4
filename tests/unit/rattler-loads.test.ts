import { Version } from '@conda-org/rattler';

test('the rattler WASM module loads under jest ESM and compares conda versions', () => {
  expect(new Version('1.10.0').compare(new Version('1.9.2'))).toBeGreaterThan(0);
  expect(new Version('2.0.0a1').compare(new Version('2.0.0'))).toBeLessThan(0);
});
