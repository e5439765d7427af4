import { run } from '../actions/main.js';
import { inExtractWorker, serveExtractions } from '../installer/extract-worker.js';
import { inSolveWorker, serveSolves } from '../solver/solve-worker.js';

// The solver's and the installer's threads load this same bundle (solver/solve-pool.ts,
// installer/extract-pool.ts): they serve solves or extractions instead.
if (inSolveWorker()) serveSolves();
else if (inExtractWorker()) serveExtractions();
else await run();
