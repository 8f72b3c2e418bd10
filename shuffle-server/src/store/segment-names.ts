// The one place that turns (app, shuffle, segment) into paths under the data
// directory, and back:
//   <dataDir>/shuffles/<appId>/<shuffleId>/<segmentId, 20 digits>.seg
// Segment ids are zero-padded to 20 digits (the width of u64) so `ls` lists them
// in the order they were written. Application ids were validated at the protocol
// edge; they are checked again here because this is where they become paths.
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { checkAppId } from '../../../schemas/ts/ids.js';

/** Folder under the data directory that holds every shuffle's segment files. */
export const SHUFFLES_DIR_NAME = 'shuffles';
export const SEGMENT_FILE_SUFFIX = '.seg';
/** Digits of a segment file name: u64 in decimal. */
export const SEGMENT_ID_DIGITS = 20;

const SEGMENT_FILE_PATTERN = /^([0-9]{20})\.seg$/;
const SHUFFLE_DIR_PATTERN = /^(0|[1-9][0-9]{0,9})$/;
const U32_MAX = 0xffff_ffff;

function checkShuffleId(shuffleId: number): void {
  if (!Number.isInteger(shuffleId) || shuffleId < 0 || shuffleId > U32_MAX) assert.fail(`shuffle id ${shuffleId} not a u32`);
}

export function shufflesRoot(dataDir: string): string {
  return join(dataDir, SHUFFLES_DIR_NAME);
}

export function appDir(dataDir: string, appId: string): string {
  return join(shufflesRoot(dataDir), checkAppId(appId));
}

export function shuffleDir(dataDir: string, appId: string, shuffleId: number): string {
  checkShuffleId(shuffleId);
  return join(appDir(dataDir, appId), String(shuffleId));
}

export function segmentFileName(segmentId: number): string {
  if (!Number.isSafeInteger(segmentId) || segmentId < 0) assert.fail(`segment id ${segmentId} not a safe u64`);
  return String(segmentId).padStart(SEGMENT_ID_DIGITS, '0') + SEGMENT_FILE_SUFFIX;
}

export function segmentPath(dataDir: string, appId: string, shuffleId: number, segmentId: number): string {
  return join(shuffleDir(dataDir, appId, shuffleId), segmentFileName(segmentId));
}

/** The segment id named by a file name, or null when the name is not a segment file's. */
export function parseSegmentFileName(name: string): number | null {
  const m = SEGMENT_FILE_PATTERN.exec(name);
  if (m === null) return null;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) ? id : null;
}

/** The shuffle id named by a shuffle directory name (plain decimal u32), or null. */
export function parseShuffleDirName(name: string): number | null {
  const m = SHUFFLE_DIR_PATTERN.exec(name);
  if (m === null) return null;
  const id = Number(m[1]);
  return id <= U32_MAX ? id : null;
}

/** Whether a directory name under shuffles/ is a valid application id. */
export function isAppDirName(name: string): boolean {
  try {
    checkAppId(name);
    return true;
  } catch {
    return false;
  }
}
