import { extractThreads } from '../../src/installer/extract-pool.js';
import { ConfigurationError } from '../../src/util/errors.js';

test('GITENV_EXTRACT_THREADS: the cores (at most 4) by default, 0 for none, anything else refused by name', () => {
  const cores = extractThreads({});
  expect(cores).toBeGreaterThanOrEqual(1);
  expect(cores).toBeLessThanOrEqual(4);
  expect(extractThreads({ GITENV_EXTRACT_THREADS: '' })).toBe(cores);
  expect(extractThreads({ GITENV_EXTRACT_THREADS: '0' })).toBe(0);
  expect(extractThreads({ GITENV_EXTRACT_THREADS: '3' })).toBe(3);
  for (const bad of ['-1', '1.5', 'two']) {
    expect(() => extractThreads({ GITENV_EXTRACT_THREADS: bad })).toThrow(ConfigurationError);
    expect(() => extractThreads({ GITENV_EXTRACT_THREADS: bad })).toThrow(`GITENV_EXTRACT_THREADS=${bad}`);
  }
});
