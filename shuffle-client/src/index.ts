// Public surface of the Pegasus TypeScript shuffle client.
export { Connection } from './connection.js';
export { serverUrl } from './server-address.js';
export type { ConnectionOptions, ConnectionCounters, RequestMessage, RequestOptions, StreamHandler, AnswerOf } from './connection.js';
export { ShuffleWriter } from './writer.js';
export type { CommitResult, ShuffleWriterInit, WriterOptions } from './writer.js';
export type { PushCounters } from './batch-pusher.js';
export { ShuffleReader } from './reader.js';
export type { BlockStream, ReaderOptions, ReadRecord, ReadTransport, ShuffleReaderInit } from './reader.js';
export { UcxReadStream } from './ucx-read-stream.js';
export { ReadStream } from './read-stream.js';
export type { ReadBlock, ReadCounters } from './read-stream.js';
export { heartbeat, registerShuffle, startHeartbeat, unregisterApp, unregisterShuffle } from './control.js';
export type { ShuffleSpec } from './control.js';
export { compressBlock, decompressBlock, LZ4_SIZE_PREFIX_BYTES } from './compression.js';
export type { CodecName } from './compression.js';
export { decodeRecords, encodeRecords, forEachRecord, RECORD_BYTES_MAX, RECORD_LENGTH_BYTES } from './record-codec.js';
export { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';
export type { ErrorCodeName } from '../../schemas/ts/errors.js';
