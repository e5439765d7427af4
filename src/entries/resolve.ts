import { run } from '../actions/resolve.js';
import { inSolveWorker, serveSolves } from '../solver/solve-worker.js';

// The solver's threads load this same bundle (solver/solve-pool.ts): they serve solves instead.
if (inSolveWorker()) serveSolves();
else await run();
