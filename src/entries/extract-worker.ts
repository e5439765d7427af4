import { inExtractWorker, serveExtractions } from '../installer/extract-worker.js';

// The installer's extraction threads (installer/extract-pool.ts) load this small bundle, a sibling of
// the deploy and CLI bundles, rather than the whole bundle they were started from.
if (inExtractWorker()) serveExtractions();
