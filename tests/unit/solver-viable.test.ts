import { dependencyConstraint, VersionMatcher, ViabilityIndex, type Candidate } from '../../src/solver/viable.js';

const rec = (name: string, version: string, depends: string[] = []): Candidate & { id: string } => ({ name, version, depends, id: `${name}-${version}` });

/** An index over `records`, the way the solver builds one (the same array per name each time). */
function indexOf(records: (Candidate & { id: string })[], virtuals = [{ name: '__glibc', version: '2.28', build: '0' }]) {
  const byName = new Map<string, (Candidate & { id: string })[]>();
  for (const r of records) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const matcher = new VersionMatcher();
  return { index: new ViabilityIndex((n) => byName.get(n) ?? [], virtuals, matcher), matcher };
}

const ids = (v: { kept: Set<{ id: string }> } | undefined): string[] => [...(v?.kept ?? [])].map((r) => r.id).sort();

test('the version part is read only when its meaning is certain in every match-spec form', () => {
  expect(dependencyConstraint('python >=3.11,<3.12.0a0')).toEqual({ name: 'python', version: '>=3.11,<3.12.0a0' });
  expect(dependencyConstraint('python 3.11.*')).toEqual({ name: 'python', version: '3.11.*' });
  expect(dependencyConstraint('python_abi 3.11.* *_cp311')).toEqual({ name: 'python_abi', version: '3.11.*' });
  expect(dependencyConstraint('libgcc-ng >=12|==11.2')).toEqual({ name: 'libgcc-ng', version: '>=12|==11.2' });
  expect(dependencyConstraint('conda-forge::numpy >=2')).toEqual({ name: 'numpy', version: '>=2' });
  // Counted as "any record of the name": bare versions, `=` forms, brackets, odd spacing, names only.
  for (const spec of ['numpy 1.11', 'numpy 1.11 py27_0', 'numpy=1.11', 'numpy[version=">=2"]', 'numpy >= 2 x y', 'numpy', 'numpy 1.*.3', 'numpy (>=2)']) {
    expect(dependencyConstraint(spec)).toEqual({ name: 'numpy' });
  }
});

test('a record failing a spec, and every record that needs only such records, can never be installed', () => {
  const { index, matcher } = indexOf([
    rec('python', '3.10.4', ['__glibc >=2.17']),
    rec('python', '3.11.7', ['__glibc >=2.17']),
    rec('numpy', '1.26.0', ['python >=3.10,<3.11.0a0']),
    rec('numpy', '1.26.1', ['python >=3.11,<3.12.0a0']),
    rec('scipy', '1.11.0', ['numpy >=1.26.0,<1.26.1']),
    rec('scipy', '1.12.0', ['numpy >=1.26.1']),
    rec('pandas', '2.0.0', ['scipy <1.12']),
  ]);
  const v = index.prune(['python 3.11.*', 'scipy', 'pandas >=0']);
  // pandas has no candidate left (its only scipy needs the numpy for python 3.10): the solver explains.
  expect(v).toBeUndefined();
  const w = index.prune(['python 3.11.*', 'scipy']);
  expect(ids(w)).toEqual(['numpy-1.26.1', 'python-3.11.7', 'scipy-1.12.0']);
  expect([...(w?.names ?? [])].sort()).toEqual(['numpy', 'python', 'scipy']);
  expect(w?.before).toBe(6);
  // The same index, another environment: nothing of the first solve's choices stays.
  expect(ids(index.prune(['python 3.10.*', 'scipy']))).toEqual(['numpy-1.26.0', 'python-3.10.4', 'scipy-1.11.0']);
  matcher.free();
});

test("virtual packages are candidates with the solve's versions; a missing one makes its dependents uninstallable", () => {
  const { index, matcher } = indexOf([rec('cuda-lib', '1', ['__cuda >=12']), rec('cuda-lib', '0', []), rec('glibc-lib', '2', ['__glibc >=2.34']), rec('glibc-lib', '1', ['__glibc >=2.17'])]);
  expect(ids(index.prune(['cuda-lib', 'glibc-lib']))).toEqual(['cuda-lib-0', 'glibc-lib-1']);
  matcher.free();
});

test('names reached only through records that cannot be installed are left out', () => {
  const { index, matcher } = indexOf([rec('a', '2', ['b >=2']), rec('a', '1', []), rec('b', '1', []), rec('b', '2', ['missing-package'])]);
  const v = index.prune(['a']);
  expect(ids(v)).toEqual(['a-1']);
  expect([...(v?.names ?? [])]).toEqual(['a']);
  matcher.free();
});

test('what is not read with certainty is kept, and a glob spec turns pruning off', () => {
  const { index, matcher } = indexOf([rec('a', '1', ['b 9.9 build_x']), rec('b', '1', []), rec('c', '1', ['b[version=">=9"]'])]);
  expect(ids(index.prune(['a', 'c']))).toEqual(['a-1', 'b-1', 'c-1']);
  expect(index.prune(['a*'])).toBeUndefined();
  matcher.free();
});

test('a version rattler cannot parse is never taken for a mismatch', () => {
  const matcher = new VersionMatcher();
  expect(matcher.mayMatch('>=1.2', 'not a version!')).toBe(true);
  expect(matcher.mayMatch('>=1.2', '1.1')).toBe(false);
  expect(matcher.mayMatch('1.1.1.*', '1.1.1w')).toBe(false); // 0.3.5's rule, the one its solver applies
  expect(matcher.mayMatch('1.1.1.*|==1.1.1w', '1.1.1w')).toBe(true); // as widened by prefix-compat.ts
  matcher.free();
});
