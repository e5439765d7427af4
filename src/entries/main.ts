import { run } from '../actions/main.js';

await run();
