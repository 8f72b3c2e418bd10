// The native CRC32C (hardware instructions) against the portable one and a
// bitwise reference, on random data of many lengths and alignments.
import { randomBytes } from 'node:crypto';

import test from 'ava';

import { crc32c, crc32cCombine, crc32cImplementation, crc32cNative, crc32cPortable } from '../ts/crc32c.js';
import { nativeStatus } from '../ts/index.js';

/** The definition: reflected CRC-32C, polynomial 0x82F63B78, one bit at a time. */
function crc32cReference(data: Uint8Array, initial = 0): number {
  let crc = ~initial >>> 0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

test('the native module is loaded and the server and client use its CRC32C', (t) => {
  t.true(nativeStatus().loaded, nativeStatus().reason ?? '');
  t.is(crc32cImplementation, 'native');
  t.not(crc32cNative, null);
  t.is(crc32c, crc32cNative!);
});

test('native CRC32C matches the standard check value', (t) => {
  t.is(crc32cNative!(Buffer.from('123456789')) >>> 0, 0xe3069283);
  t.is(crc32cPortable(Buffer.from('123456789')) >>> 0, 0xe3069283);
  t.is(crc32cNative!(Buffer.alloc(0)) >>> 0, 0);
});

test('native and portable CRC32C agree with the bitwise reference on random data', (t) => {
  const big = randomBytes(1 << 20);
  for (let i = 0; i < 300; i++) {
    const len = i < 100 ? i : Math.floor(Math.random() * 70_000);
    const start = Math.floor(Math.random() * 64); // odd alignments too
    const data = big.subarray(start, start + len);
    const want = crc32cReference(data);
    t.is(crc32cNative!(data) >>> 0, want, `length ${len} at offset ${start}`);
    t.is(crc32cPortable(data) >>> 0, want, `length ${len} at offset ${start}`);
  }
  t.is(crc32cNative!(big) >>> 0, crc32cPortable(big) >>> 0);
});

test('CRC32C continued over pieces equals CRC32C of the whole', (t) => {
  const data = randomBytes(100_003);
  const whole = crc32cReference(data);
  let native = 0;
  let portable = 0;
  for (let at = 0; at < data.length;) {
    const n = Math.min(data.length - at, 1 + Math.floor(Math.random() * 9000));
    native = crc32cNative!(data.subarray(at, at + n), native);
    portable = crc32cPortable(data.subarray(at, at + n), portable);
    at += n;
  }
  t.is(native >>> 0, whole);
  t.is(portable >>> 0, whole);
});

test('crc32cCombine(crc(A), crc(B), |B|) is crc(A‖B), for lengths around powers of two and random splits', (t) => {
  const data = randomBytes(300_000);
  const lengths = [0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 4095, 4096, 4097, 65_536, 131_071, 262_144, 299_999];
  for (const lb of lengths) {
    for (const la of [0, 1, 5, 1000]) {
      if (la + lb > data.length) continue;
      const a = data.subarray(0, la);
      const b = data.subarray(la, la + lb);
      t.is(crc32cCombine(crc32cPortable(a), crc32cPortable(b), lb), crc32cPortable(data.subarray(0, la + lb)), `|A| ${la} |B| ${lb}`);
    }
  }
  // A chain over many pieces, as a run's CRC over its blocks.
  let at = 0;
  let crc = 0;
  while (at < data.length) {
    const n = Math.min(data.length - at, 1 + Math.floor(Math.random() * 40_000));
    crc = crc32cCombine(crc, crc32cPortable(data.subarray(at, at + n)), n);
    at += n;
  }
  t.is(crc, crc32cPortable(data));
});
