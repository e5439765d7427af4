import { authHeaderConfig } from '../../src/git/auth.js';
import { isStaleRejection, parsePushPorcelain, PushRejectedError } from '../../src/git/push.js';

test('the auth header is scoped to the remote origin and carries basic x-access-token', () => {
  const entry = authHeaderConfig('https://github.com/org/envs.git', 'tok123');
  expect(entry).toEqual({
    key: 'http.https://github.com/.extraheader',
    value: `AUTHORIZATION: basic ${Buffer.from('x-access-token:tok123').toString('base64')}`,
  });
  expect(authHeaderConfig('http://127.0.0.1:8080/x.git', 't')?.key).toBe('http.http://127.0.0.1:8080/.extraheader');
  expect(authHeaderConfig('/srv/envs.git', 't')).toBeUndefined();
  expect(authHeaderConfig('file:///srv/envs.git', 't')).toBeUndefined();
  expect(authHeaderConfig('git@github.com:org/envs.git', 't')).toBeUndefined();
});

test('push porcelain: accepted, non-fast-forward, checked out, atomic', () => {
  const out = [
    'To /srv/origin.git',
    '*\trefs/tags/env-a-2020_01_01:refs/tags/env-a-2020_01_01\t[new tag]',
    '!\t0123abc:refs/heads/a\t[rejected] (non-fast-forward)',
    '!\trefs/heads/b:refs/heads/b\t[remote rejected] (branch is currently checked out)',
    '!\tdeadbeef:refs/tags/x\t[rejected] (already exists)',
    'Done',
  ].join('\n');
  const refs = parsePushPorcelain(out);
  expect(refs.map((r) => [r.flag, r.dst, r.summary, r.reason])).toEqual([
    ['*', 'refs/tags/env-a-2020_01_01', '[new tag]', undefined],
    ['!', 'refs/heads/a', '[rejected]', 'non-fast-forward'],
    ['!', 'refs/heads/b', '[remote rejected]', 'branch is currently checked out'],
    ['!', 'refs/tags/x', '[rejected]', 'already exists'],
  ]);
  expect(refs.map(isStaleRejection)).toEqual([false, true, false, true]);
  expect(new PushRejectedError('r', [refs[1], refs[3]]).stale).toBe(true);
  expect(new PushRejectedError('r', [refs[1], refs[2]]).stale).toBe(false);
});
