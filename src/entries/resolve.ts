import { run } from '../actions/resolve.js';

await run();
