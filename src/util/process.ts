/**
 * Whether a process of this host is alive: signal 0 probes it without touching it; EPERM means it
 * exists under another user. The one rule for "is the run that left this behind still running".
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
