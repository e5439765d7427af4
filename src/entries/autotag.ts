import { run } from '../actions/autotag.js';

await run();
