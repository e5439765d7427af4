import { run } from '../actions/deploy.js';
import { inExtractWorker, serveExtractions } from '../installer/extract-worker.js';

// The installer's threads load this same bundle (installer/extract-pool.ts): they serve extractions instead.
if (inExtractWorker()) serveExtractions();
else await run();
