package io.pegasus.client;

import com.google.flatbuffers.FlatBufferBuilder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import pegasus.wire.AbortObject;
import pegasus.wire.AppendObject;
import pegasus.wire.BlockHeader;
import pegasus.wire.CancelRead;
import pegasus.wire.CloseObject;
import pegasus.wire.Codec;
import pegasus.wire.CommitAck;
import pegasus.wire.CommitMap;
import pegasus.wire.CreateObject;
import pegasus.wire.DeletePath;
import pegasus.wire.DeleteResult;
import pegasus.wire.DirListing;
import pegasus.wire.Envelope;
import pegasus.wire.Error;
import pegasus.wire.ErrorCode;
import pegasus.wire.Heartbeat;
import pegasus.wire.Hello;
import pegasus.wire.HelloAck;
import pegasus.wire.ListDir;
import pegasus.wire.MakeDirs;
import pegasus.wire.Message;
import pegasus.wire.ObjectCreated;
import pegasus.wire.OpenObject;
import pegasus.wire.OpenRead;
import pegasus.wire.PathKind;
import pegasus.wire.PathStatus;
import pegasus.wire.PushBlocks;
import pegasus.wire.ReadCredit;
import pegasus.wire.ReadData;
import pegasus.wire.ReadEnd;
import pegasus.wire.RegisterShuffle;
import pegasus.wire.RenamePath;
import pegasus.wire.StatPath;
import pegasus.wire.UnregisterApp;
import pegasus.wire.UnregisterShuffle;

/**
 * Frame codec (FRAMING.md): {@code u32le E | Envelope (E bytes, identifier "PGS1") | body}.
 * Encoders return the prefix and the envelope in one buffer; the body (block bytes)
 * travels after it in the same WebSocket message without being copied here.
 */
final class Frames {
  private Frames() {}

  private static final String FILE_IDENTIFIER = "PGS1";

  // ---------------------------------------------------------------------------
  // Encoding

  private static FlatBufferBuilder builder(int bytes) {
    return new FlatBufferBuilder(Math.max(128, bytes));
  }

  /**
   * Finishes the envelope and puts the u32le length in front of it. The builder
   * fills its buffer from the end, so there is normally room for the prefix in
   * front of the data and nothing is copied.
   */
  private static ByteBuffer finish(FlatBufferBuilder b, int requestId, byte type, int message) {
    int env = Envelope.createEnvelope(b, Integer.toUnsignedLong(requestId), type, message);
    b.finish(env, FILE_IDENTIFIER);
    ByteBuffer data = b.dataBuffer();
    int start = data.position();
    int length = data.remaining();
    ByteBuffer out;
    if (start >= WireLimits.FRAME_PREFIX_BYTES) {
      out = data.duplicate();
      out.position(start - WireLimits.FRAME_PREFIX_BYTES);
    } else {
      out = ByteBuffer.allocate(WireLimits.FRAME_PREFIX_BYTES + length);
      out.position(WireLimits.FRAME_PREFIX_BYTES);
      out.put(data.duplicate());
      out.position(0);
    }
    out.order(ByteOrder.LITTLE_ENDIAN).putInt(out.position(), length);
    return out.order(ByteOrder.BIG_ENDIAN);
  }

  private static int string(FlatBufferBuilder b, String s, String field) {
    byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
    if (utf8.length > WireLimits.STRING_BYTES_MAX) {
      throw new IllegalArgumentException(field + " is " + utf8.length + " bytes, limit " + WireLimits.STRING_BYTES_MAX);
    }
    return b.createString(ByteBuffer.wrap(utf8));
  }

  static ByteBuffer hello(int requestId, int protocolVersion, String client) {
    FlatBufferBuilder b = builder(64 + client.length() * 3);
    int m = Hello.createHello(b, protocolVersion, string(b, client, "client"));
    return finish(b, requestId, Message.Hello, m);
  }

  static ByteBuffer heartbeat(int requestId, String appId) {
    FlatBufferBuilder b = builder(64 + appId.length() * 3);
    int m = Heartbeat.createHeartbeat(b, string(b, appId, "app_id"));
    return finish(b, requestId, Message.Heartbeat, m);
  }

  static ByteBuffer registerShuffle(int requestId, String appId, int shuffleId, int numMaps, int numPartitions) {
    FlatBufferBuilder b = builder(64 + appId.length() * 3);
    int m = RegisterShuffle.createRegisterShuffle(b, string(b, appId, "app_id"), Integer.toUnsignedLong(shuffleId),
        Integer.toUnsignedLong(numMaps), Integer.toUnsignedLong(numPartitions));
    return finish(b, requestId, Message.RegisterShuffle, m);
  }

  static ByteBuffer unregisterShuffle(int requestId, String appId, int shuffleId) {
    FlatBufferBuilder b = builder(64 + appId.length() * 3);
    int m = UnregisterShuffle.createUnregisterShuffle(b, string(b, appId, "app_id"), Integer.toUnsignedLong(shuffleId));
    return finish(b, requestId, Message.UnregisterShuffle, m);
  }

  static ByteBuffer unregisterApp(int requestId, String appId) {
    FlatBufferBuilder b = builder(64 + appId.length() * 3);
    int m = UnregisterApp.createUnregisterApp(b, string(b, appId, "app_id"));
    return finish(b, requestId, Message.UnregisterApp, m);
  }

  /** Envelope bytes of a PushBlocks with {@code blocks} headers, an upper bound. */
  static int pushEnvelopeBytes(String appId, int blocks) {
    return 96 + appId.length() * 3 + blocks * WireLimits.BLOCK_HEADER_BYTES;
  }

  static ByteBuffer pushBlocks(int requestId, String appId, int shuffleId, List<Block> blocks) {
    FlatBufferBuilder b = builder(pushEnvelopeBytes(appId, blocks.size()));
    int app = string(b, appId, "app_id");
    PushBlocks.startBlocksVector(b, blocks.size());
    for (int i = blocks.size() - 1; i >= 0; i--) {
      Block k = blocks.get(i);
      BlockHeader.createBlockHeader(b, k.attempt(), Integer.toUnsignedLong(k.mapId()), Integer.toUnsignedLong(k.partition()),
          Integer.toUnsignedLong(k.batch()), Integer.toUnsignedLong(k.seq()), Integer.toUnsignedLong(k.rawLength()),
          Integer.toUnsignedLong(k.storedLength()), Integer.toUnsignedLong(k.crc32c()), k.codec() & 0xff);
    }
    int vec = b.endVector();
    int m = PushBlocks.createPushBlocks(b, app, Integer.toUnsignedLong(shuffleId), vec);
    return finish(b, requestId, Message.PushBlocks, m);
  }

  static ByteBuffer commitMap(int requestId, String appId, int shuffleId, int mapId, long attempt, int batchCount) {
    FlatBufferBuilder b = builder(96 + appId.length() * 3);
    int m = CommitMap.createCommitMap(b, string(b, appId, "app_id"), Integer.toUnsignedLong(shuffleId),
        Integer.toUnsignedLong(mapId), attempt, Integer.toUnsignedLong(batchCount));
    return finish(b, requestId, Message.CommitMap, m);
  }

  static ByteBuffer openRead(int requestId, String appId, int shuffleId, int partitionStart, int partitionEnd,
      int mapStart, int mapEnd, int creditBytes) {
    FlatBufferBuilder b = builder(96 + appId.length() * 3);
    int m = OpenRead.createOpenRead(b, string(b, appId, "app_id"), Integer.toUnsignedLong(shuffleId),
        Integer.toUnsignedLong(partitionStart), Integer.toUnsignedLong(partitionEnd), Integer.toUnsignedLong(mapStart),
        Integer.toUnsignedLong(mapEnd), Integer.toUnsignedLong(creditBytes));
    return finish(b, requestId, Message.OpenRead, m);
  }

  static ByteBuffer readCredit(int requestId, int creditBytes) {
    FlatBufferBuilder b = builder(64);
    int m = ReadCredit.createReadCredit(b, Integer.toUnsignedLong(creditBytes));
    return finish(b, requestId, Message.ReadCredit, m);
  }

  static ByteBuffer cancelRead(int requestId) {
    FlatBufferBuilder b = builder(64);
    CancelRead.startCancelRead(b);
    int m = CancelRead.endCancelRead(b);
    return finish(b, requestId, Message.CancelRead, m);
  }

  // Objects (FRAMING.md "Objects").

  static ByteBuffer createObject(int requestId, String path, boolean overwrite, long ttlMs) {
    FlatBufferBuilder b = builder(96 + path.length() * 3);
    int m = CreateObject.createCreateObject(b, string(b, path, "path"), overwrite, ttlMs, false);
    return finish(b, requestId, Message.CreateObject, m);
  }

  /** The envelope of an AppendObject; its {@code length} bytes follow it in the frame body. */
  static ByteBuffer appendObject(int requestId, long handle, long offset, int length, int crc32c) {
    FlatBufferBuilder b = builder(96);
    int m = AppendObject.createAppendObject(b, handle, offset, Integer.toUnsignedLong(length), Integer.toUnsignedLong(crc32c));
    return finish(b, requestId, Message.AppendObject, m);
  }

  static ByteBuffer closeObject(int requestId, long handle, long length) {
    FlatBufferBuilder b = builder(64);
    int m = CloseObject.createCloseObject(b, handle, length);
    return finish(b, requestId, Message.CloseObject, m);
  }

  static ByteBuffer abortObject(int requestId, long handle) {
    FlatBufferBuilder b = builder(64);
    int m = AbortObject.createAbortObject(b, handle);
    return finish(b, requestId, Message.AbortObject, m);
  }

  static ByteBuffer statPath(int requestId, String path) {
    FlatBufferBuilder b = builder(64 + path.length() * 3);
    int m = StatPath.createStatPath(b, string(b, path, "path"));
    return finish(b, requestId, Message.StatPath, m);
  }

  static ByteBuffer listDir(int requestId, String path, String startAfter, int limit) {
    FlatBufferBuilder b = builder(96 + (path.length() + startAfter.length()) * 3);
    int p = string(b, path, "path");
    int after = string(b, startAfter, "start_after");
    int m = ListDir.createListDir(b, p, after, Integer.toUnsignedLong(limit));
    return finish(b, requestId, Message.ListDir, m);
  }

  static ByteBuffer makeDirs(int requestId, String path) {
    FlatBufferBuilder b = builder(64 + path.length() * 3);
    int m = MakeDirs.createMakeDirs(b, string(b, path, "path"));
    return finish(b, requestId, Message.MakeDirs, m);
  }

  static ByteBuffer renamePath(int requestId, String from, String to) {
    FlatBufferBuilder b = builder(96 + (from.length() + to.length()) * 3);
    int f = string(b, from, "from");
    int t = string(b, to, "to");
    int m = RenamePath.createRenamePath(b, f, t);
    return finish(b, requestId, Message.RenamePath, m);
  }

  static ByteBuffer deletePath(int requestId, String path, boolean recursive) {
    FlatBufferBuilder b = builder(64 + path.length() * 3);
    int m = DeletePath.createDeletePath(b, string(b, path, "path"), recursive);
    return finish(b, requestId, Message.DeletePath, m);
  }

  static ByteBuffer openObject(int requestId, String path, long offset, long length, int creditBytes, long id) {
    FlatBufferBuilder b = builder(96 + path.length() * 3);
    int m = OpenObject.createOpenObject(b, string(b, path, "path"), offset, length, Integer.toUnsignedLong(creditBytes), id);
    return finish(b, requestId, Message.OpenObject, m);
  }

  // ---------------------------------------------------------------------------
  // Decoding

  /**
   * One received frame, decoded from its envelope; fields not used by the message
   * type are zero. For ReadData the headers are kept in arrays until the body has
   * arrived, then turned into {@link Block}s by {@link #attachBody}.
   */
  static final class Frame {
    int requestId;
    byte type;
    /** Body bytes the envelope names (sum of stored_length for ReadData). */
    int bodyBytes;
    // HelloAck
    int protocolVersion;
    String serverVersion;
    long frameBytesMax;
    long pushWindow;
    long readFrameBytes;
    // CommitAck
    boolean won;
    long winnerAttempt;
    // ReadEnd
    long blockCount;
    long byteCount;
    // ObjectCreated
    long handle;
    // PathStatus (StatPath, CloseObject)
    PathInfo pathInfo;
    // DirListing
    List<PathInfo> entries;
    boolean more;
    // DeleteResult
    boolean deleted;
    // Error
    int errorCode;
    String errorMessage;
    // ReadData
    int blockTotal;
    long[] attempts;
    int[] headerInts; // 7 per block: map, partition, batch, seq, raw, stored, crc
    byte[] codecs;
    Block[] blocks;

    String typeName() {
      return type >= 0 && type < Message.names.length ? Message.name(type) : "type " + type;
    }
  }

  static PegasusException malformed(String what) {
    return new PegasusException(ErrorCode.MALFORMED_FRAME, what);
  }

  /**
   * Checks a frame's u32le envelope length {@code e} (as a signed int), before any byte
   * of the envelope is awaited: MESSAGE_TOO_LARGE above ENVELOPE_BYTES_MAX, MALFORMED_FRAME
   * below the 8 bytes of the smallest envelope. {@code from} names the sender in messages.
   */
  static void checkEnvelopeLength(int e, String from) throws PegasusException {
    if (e < 0 || e > WireLimits.ENVELOPE_BYTES_MAX) {
      throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, from + " sent an envelope of "
          + Integer.toUnsignedString(e) + " bytes, limit " + WireLimits.ENVELOPE_BYTES_MAX);
    }
    if (e < 8) throw malformed(from + " sent an envelope length of " + e);
  }

  /**
   * Decodes one whole frame held in one buffer (its remaining bytes): the checks
   * {@link Connection} makes as the bytes of a frame arrive, in the same order, with
   * FRAME_BYTES_MAX as the frame bound. For tests and tools; the body is copied.
   */
  static Frame decodeFrame(ByteBuffer frame) throws PegasusException {
    ByteBuffer b = frame.slice().order(ByteOrder.LITTLE_ENDIAN);
    int length = b.remaining();
    if (length > WireLimits.FRAME_BYTES_MAX) {
      throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, "frame of " + length + " bytes, limit " + WireLimits.FRAME_BYTES_MAX);
    }
    if (length < WireLimits.FRAME_PREFIX_BYTES) throw malformed("frame of " + length + " bytes ends inside its envelope length");
    int e = b.getInt(0);
    checkEnvelopeLength(e, "the peer");
    if (length - WireLimits.FRAME_PREFIX_BYTES < e) {
      throw malformed("frame of " + length + " bytes ends inside its envelope of " + e + " bytes");
    }
    Frame f = decodeEnvelope(b.duplicate().position(WireLimits.FRAME_PREFIX_BYTES).limit(WireLimits.FRAME_PREFIX_BYTES + e).slice());
    int bodyBytes = length - WireLimits.FRAME_PREFIX_BYTES - e;
    if (bodyBytes != f.bodyBytes) {
      throw malformed(f.typeName() + " frame has a body of " + bodyBytes + " bytes, its headers name " + f.bodyBytes);
    }
    byte[] body = new byte[bodyBytes];
    b.duplicate().position(WireLimits.FRAME_PREFIX_BYTES + e).get(body);
    attachBody(f, body);
    return f;
  }

  /**
   * Decodes the envelope in {@code env} (exactly E bytes, starting at index 0).
   * Checks structure explicitly, since FlatBuffers' Java runtime has no verifier:
   * any out-of-range offset shows up as an exception, reported as MALFORMED_FRAME.
   */
  static Frame decodeEnvelope(ByteBuffer env) throws PegasusException {
    env.order(ByteOrder.LITTLE_ENDIAN);
    int length = env.remaining();
    try {
      if (length < 8) throw malformed("envelope of " + length + " bytes is shorter than the minimum");
      if (!Envelope.EnvelopeBufferHasIdentifier(env)) throw malformed("frame does not carry the PGS1 identifier");
      int root = env.getInt(0);
      if (root < 8 || root > length - 4) throw malformed("root offset " + root + " out of bounds");
      int vtable = root - env.getInt(root);
      if (vtable < 0 || vtable > length - 4) throw malformed("root vtable out of bounds");
      Envelope e = Envelope.getRootAsEnvelope(env);
      Frame f = new Frame();
      f.requestId = (int) e.requestId();
      f.type = e.messageType();
      switch (f.type) {
        case Message.NONE:
          throw malformed("envelope has no message");
        case Message.HelloAck: {
          HelloAck m = (HelloAck) need(e.message(new HelloAck()));
          f.protocolVersion = m.protocolVersion();
          f.serverVersion = m.serverVersion() == null ? "" : m.serverVersion();
          f.frameBytesMax = m.frameBytesMax();
          f.pushWindow = m.pushWindow();
          f.readFrameBytes = m.readFrameBytes();
          break;
        }
        case Message.Ack:
          need(e.message(new pegasus.wire.Ack()));
          break;
        case Message.CommitAck: {
          CommitAck m = (CommitAck) need(e.message(new CommitAck()));
          f.won = m.won();
          f.winnerAttempt = m.winnerAttempt();
          break;
        }
        case Message.ReadEnd: {
          ReadEnd m = (ReadEnd) need(e.message(new ReadEnd()));
          f.blockCount = m.blockCount();
          f.byteCount = m.byteCount();
          break;
        }
        case Message.Error: {
          Error m = (Error) need(e.message(new Error()));
          f.errorCode = m.code();
          String text = m.message();
          f.errorMessage = text == null ? "" : text.length() > WireLimits.STRING_BYTES_MAX
              ? text.substring(0, WireLimits.STRING_BYTES_MAX) : text;
          break;
        }
        case Message.ReadData: {
          ReadData m = (ReadData) need(e.message(new ReadData()));
          int n = m.blocksLength();
          if (n > WireLimits.BLOCKS_PER_MESSAGE_MAX) {
            throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, "ReadData names " + n + " blocks, limit "
                + WireLimits.BLOCKS_PER_MESSAGE_MAX);
          }
          if ((long) n * WireLimits.BLOCK_HEADER_BYTES > length) throw malformed("ReadData: " + n + " headers do not fit the envelope");
          f.blockTotal = n;
          f.attempts = new long[n];
          f.headerInts = new int[n * 7];
          f.codecs = new byte[n];
          BlockHeader h = new BlockHeader();
          long body = 0;
          for (int i = 0; i < n; i++) {
            m.blocks(h, i);
            f.attempts[i] = h.attempt();
            int at = i * 7;
            f.headerInts[at] = (int) h.mapId();
            f.headerInts[at + 1] = (int) h.partition();
            f.headerInts[at + 2] = (int) h.batch();
            f.headerInts[at + 3] = (int) h.seq();
            f.headerInts[at + 4] = (int) h.rawLength();
            long stored = h.storedLength();
            if (stored > WireLimits.BLOCK_BYTES_MAX) {
              throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, "ReadData block " + i + " of " + stored
                  + " stored bytes exceeds " + WireLimits.BLOCK_BYTES_MAX);
            }
            f.headerInts[at + 5] = (int) stored;
            f.headerInts[at + 6] = (int) h.crc32c();
            int codec = h.codec();
            if (codec != Codec.NONE && codec != Codec.LZ4) {
              throw new PegasusException(ErrorCode.INVALID_ARGUMENT, "ReadData block " + i + " has unknown codec " + codec);
            }
            f.codecs[i] = (byte) codec;
            body += stored;
          }
          if (body > WireLimits.FRAME_BYTES_MAX) {
            throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, "ReadData names " + body + " body bytes");
          }
          f.bodyBytes = (int) body;
          break;
        }
        case Message.ObjectCreated: {
          ObjectCreated m = (ObjectCreated) need(e.message(new ObjectCreated()));
          f.handle = m.handle();
          break;
        }
        case Message.PathStatus: {
          PathStatus m = (PathStatus) need(e.message(new PathStatus()));
          f.pathInfo = pathInfo(m);
          break;
        }
        case Message.DirListing: {
          DirListing m = (DirListing) need(e.message(new DirListing()));
          int n = m.entriesLength();
          if (n > WireLimits.LIST_ENTRIES_MAX) {
            throw malformed("DirListing of " + n + " entries, limit " + WireLimits.LIST_ENTRIES_MAX);
          }
          List<PathInfo> entries = new ArrayList<>(n);
          PathStatus s = new PathStatus();
          for (int i = 0; i < n; i++) {
            if (m.entries(s, i) == null) throw malformed("DirListing entry " + i + " is missing");
            entries.add(pathInfo(s));
          }
          f.entries = entries;
          f.more = m.more();
          break;
        }
        case Message.DeleteResult: {
          DeleteResult m = (DeleteResult) need(e.message(new DeleteResult()));
          f.deleted = m.deleted();
          break;
        }
        default:
          throw new PegasusException(ErrorCode.UNKNOWN_MESSAGE, "server sent " + f.typeName() + ", which a client does not accept");
      }
      return f;
    } catch (RuntimeException ex) {
      throw new PegasusException(ErrorCode.MALFORMED_FRAME, "envelope does not decode: " + ex, ex);
    }
  }

  private static PathInfo pathInfo(PathStatus m) throws PegasusException {
    int kind = m.kind();
    if (kind != PathKind.FILE && kind != PathKind.DIRECTORY) throw malformed("PathStatus has unknown kind " + kind);
    String name = m.name();
    String tier = m.tier();
    return new PathInfo(name == null ? "" : name, kind == PathKind.DIRECTORY, m.length(), m.mtimeMs(), m.id(), m.ttlMs(),
        m.cache(), tier == null ? "" : tier);
  }

  private static Object need(Object table) throws PegasusException {
    if (table == null) throw malformed("envelope has no message");
    return table;
  }

  /** Turns a ReadData frame's headers into blocks over {@code body}. */
  static void attachBody(Frame f, byte[] body) {
    attachBody(f, body, null);
  }

  /** {@link #attachBody(Frame, byte[])} for a body whose blocks share {@code lease} (null: none). */
  static void attachBody(Frame f, byte[] body, BodyLease lease) {
    if (f.type != Message.ReadData) return;
    int n = f.blockTotal;
    Block[] blocks = new Block[n];
    int off = 0;
    for (int i = 0; i < n; i++) {
      int at = i * 7;
      int stored = f.headerInts[at + 5];
      blocks[i] = new Block(f.attempts[i], f.headerInts[at], f.headerInts[at + 1], f.headerInts[at + 2], f.headerInts[at + 3],
          f.headerInts[at + 4], f.headerInts[at + 6], f.codecs[i], ByteBuffer.wrap(body, off, stored), lease);
      off += stored;
    }
    f.blocks = blocks;
    f.attempts = null;
    f.headerInts = null;
    f.codecs = null;
  }
}
