// The shared test vectors (schemas/test-vectors/, format: its README.md): their
// JSON types, where they are, and the conversion between a decoded message and
// its JSON form. Used by scripts/gen-test-vectors.ts, which writes them, and by
// the TypeScript tests that read them (the JVM client's tests read them too).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { PegasusError, type ErrorCodeName } from '../ts/errors.js';
import type { BlockHeader, Message } from '../ts/messages.js';
import type { ExpectedRun } from '../ts/run-parser.js';

/** schemas/test-vectors, from this module at dist/schemas/test/. */
export const VECTORS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'schemas', 'test-vectors');

export const VECTOR_FILES = ['frames.json', 'invalid-frames.json', 'block-headers.json', 'blocks.json', 'crc32c.json', 'runs.json'] as const;
export type VectorFile = (typeof VECTOR_FILES)[number];

/** A message as JSON: byte fields as lowercase hex, u64 addresses as decimal strings, the rest as in messages.ts. */
export type JsonMessage = { type: Message['type'] } & Record<string, unknown>;

export type Client = 'ts' | 'java';

export interface FrameVector {
  name: string;
  direction: 'client-to-server' | 'server-to-client';
  /** The clients that send (client-to-server) or receive (server-to-client) this message type. */
  clients: Client[];
  requestId: number;
  message: JsonMessage;
  /** The frame body (block bytes), hex. */
  body: string;
  /** The whole frame as schemas/ts/codec.ts encodes it, hex. */
  frame: string;
}

export interface InvalidFrameVector {
  name: string;
  frame: string;
  error: ErrorCodeName;
  why: string;
}

export interface BlockHeaderVector {
  name: string;
  header: BlockHeader;
  /** The 40-byte FlatBuffers BlockHeader struct (in PushBlocks and ReadData envelopes), hex. */
  wire: string;
  /** The 48-byte block record header of a run (RUN_FORMAT.md), hex. */
  record: string;
}

/** A block as it travels: header fields that matter for decoding, its stored bytes, and what they decode to or the error. */
export interface BlockVector {
  name: string;
  codec: number;
  rawLength: number;
  crc32c: number;
  stored: string;
  /** The raw bytes, hex; absent when decoding must fail. */
  raw?: string;
  error?: ErrorCodeName;
}

export interface Crc32cVector {
  name: string;
  /** The input in pieces (hex); the CRC32C is of their concatenation, computed piece after piece. */
  parts: string[];
  crc32c: number;
}

export interface RunVector {
  name: string;
  expected: ExpectedRun;
  run: string;
  blocks?: Array<{ header: BlockHeader; data: string }>;
  error?: ErrorCodeName;
}

export interface VectorDocument<T> {
  $comment: string;
  vectors: T[];
}

export function readVectors<T>(file: VectorFile): T[] {
  return (JSON.parse(readFileSync(join(VECTORS_DIR, file), 'utf8')) as VectorDocument<T>).vectors;
}

const BYTES_FIELDS = new Set(['ucxAddress']);

/** The JSON form of a decoded message. */
export function messageToJson(m: Message): JsonMessage {
  return JSON.parse(JSON.stringify(m, (key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    // Buffer.toJSON runs before the replacer sees it: {type: 'Buffer', data: [...]}.
    if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return Buffer.from((value as { data: number[] }).data).toString('hex');
    }
    void key;
    return value;
  })) as JsonMessage;
}

/** The message a JSON form stands for (the inverse of messageToJson). */
export function messageFromJson(j: JsonMessage): Message {
  const m: Record<string, unknown> = { ...j };
  for (const k of Object.keys(m)) if (BYTES_FIELDS.has(k)) m[k] = Buffer.from(m[k] as string, 'hex');
  if (j.type === 'ReadPlan') {
    m['regions'] = (j['regions'] as string[]).map((h) => Buffer.from(h, 'hex'));
    m['runs'] = (j['runs'] as Array<Record<string, unknown>>).map((r) => ({ ...r, remoteAddress: BigInt(r['remoteAddress'] as string) }));
  }
  return m as unknown as Message;
}

/** The code of the PegasusError `fn` throws, or 'none'; anything else it throws is rethrown. */
export function codeOf(fn: () => unknown): ErrorCodeName | 'none' {
  try {
    fn();
  } catch (err) {
    if (err instanceof PegasusError) return err.code;
    throw err;
  }
  return 'none';
}
