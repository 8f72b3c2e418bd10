// Field helpers for the self-checking binary headers on disk (segment header in
// the server's engine, run and block record headers in run-format.ts): every
// header starts with a magic, a version and its own size, and ends with the
// CRC32C of its preceding bytes. Little-endian throughout.
import { crc32c } from '../../native/ts/crc32c.js';
import { ErrorCode, PegasusError } from './errors.js';

const U32_MAX = 0xffff_ffff;
const TWO_POW_32 = 0x1_0000_0000;

export function corruptHeader(message: string): PegasusError {
  return new PegasusError(ErrorCode.CORRUPT_DATA, message);
}

export function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= U32_MAX;
}

export function isU64(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** Writes a safe integer as u64 LE; JS numbers cannot hold more than 2^53, asserted by the caller. */
export function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % TWO_POW_32, at);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), at + 4);
}

/** Reads a u64 LE; returns -1 when it exceeds 2^53 (never written by us, so corrupt). */
export function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32LE(at + 4);
  if (hi > 0x1f_ffff) return -1;
  return hi * TWO_POW_32 + buf.readUInt32LE(at);
}

/** Checks magic, version (read by the caller: its width differs per header) and header size. */
export function checkPrefix(buf: Buffer, at: number, magic: number, version: number, supportedVersion: number, headerBytes: number, what: string): void {
  const gotMagic = buf.readUInt32LE(at);
  if (gotMagic !== magic) throw corruptHeader(`${what}: bad magic 0x${gotMagic.toString(16)}, expected 0x${magic.toString(16)}`);
  if (version !== supportedVersion) throw corruptHeader(`${what}: unsupported format version ${version}`);
  const gotBytes = buf.readUInt16LE(at + 6);
  if (gotBytes !== headerBytes) throw corruptHeader(`${what}: header bytes ${gotBytes}, expected ${headerBytes}`);
}

/** Checks the CRC32C in a header's last 4 bytes against its preceding bytes. */
export function checkCrc(buf: Buffer, at: number, headerBytes: number, what: string): void {
  const stored = buf.readUInt32LE(at + headerBytes - 4);
  const actual = crc32c(buf.subarray(at, at + headerBytes - 4));
  if (stored !== actual) throw corruptHeader(`${what}: header CRC32C 0x${stored.toString(16)} != computed 0x${actual.toString(16)}`);
}

/** Writes a header's CRC32C into its last 4 bytes. */
export function sealCrc(buf: Buffer, at: number, headerBytes: number): void {
  buf.writeUInt32LE(crc32c(buf.subarray(at, at + headerBytes - 4)), at + headerBytes - 4);
}
