import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toLogfmt } from '../src/util/log.js';

test('logfmt: quoted when needed, keys in order', () => {
  const line = toLogfmt(
    JSON.stringify({ level: 40, time: 0, msg: 'cannot read /proc/1/io', source: 'process_io', n: 3, path: 'a "b"' }),
  );
  assert.equal(
    line,
    'ts=1970-01-01T00:00:00.000Z level=warn msg="cannot read /proc/1/io" source=process_io n=3 path="a \\"b\\""\n',
  );
});
