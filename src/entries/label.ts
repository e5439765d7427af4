import { run } from '../actions/label.js';

await run();
