/**
 * `npm run seed-channel -- <dir>`: builds the test suite's seed channel (tests/fixtures/channel/)
 * into <dir> — real conda archives of a python 2.7 and 3.11, a numpy for each, zlib, openssl and a
 * noarch `pyhello` with an entry point; `bin/python` runs this machine's python3. The channel of
 * docs/walkthrough.md.
 */
import path from 'node:path';
import { buildSeedChannel } from '../tests/fixtures/channel/index.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: npm run seed-channel -- <directory>\n');
  process.exit(2);
}
const channel = await buildSeedChannel(path.resolve(dir));
process.stdout.write(`${channel.packages.length} packages in ${channel.url}\n`);
