package io.pegasus.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import pegasus.wire.AbortObject;
import pegasus.wire.AppendObject;
import pegasus.wire.BlockHeader;
import pegasus.wire.CloseObject;
import pegasus.wire.CommitAck;
import pegasus.wire.CommitMap;
import pegasus.wire.CreateObject;
import pegasus.wire.DeletePath;
import pegasus.wire.DeleteResult;
import pegasus.wire.DirListing;
import pegasus.wire.Envelope;
import pegasus.wire.Error;
import pegasus.wire.Heartbeat;
import pegasus.wire.Hello;
import pegasus.wire.HelloAck;
import pegasus.wire.ListDir;
import pegasus.wire.MakeDirs;
import pegasus.wire.MapCommit;
import pegasus.wire.Message;
import pegasus.wire.ObjectCreated;
import pegasus.wire.OpenObject;
import pegasus.wire.OpenRead;
import pegasus.wire.PathStatus;
import pegasus.wire.PlanRead;
import pegasus.wire.PushBlocks;
import pegasus.wire.ReadCredit;
import pegasus.wire.ReadData;
import pegasus.wire.ReadEnd;
import pegasus.wire.ReadPlan;
import pegasus.wire.RegionKey;
import pegasus.wire.RegisterShuffle;
import pegasus.wire.RenamePath;
import pegasus.wire.ReleaseRead;
import pegasus.wire.RunLocation;
import pegasus.wire.StatPath;
import pegasus.wire.UnregisterApp;
import pegasus.wire.UnregisterShuffle;

/**
 * Reads any well-formed frame with the generated Java FlatBuffers classes into the JSON
 * form of schemas/test-vectors (field names of schemas/ts/messages.ts; integers as Long,
 * bytes as lowercase hex, u64 addresses as unsigned decimal strings). The client's own
 * decoder, {@link Frames}, reads only what a server sends; this reads the messages a
 * client sends too, so the tests can check the Java encoder's output by its fields.
 * Test code: it checks no structure beyond what the generated classes do.
 */
final class WireReader {
  private WireReader() {}

  static final HexFormat HEX = HexFormat.of();

  static final class Decoded {
    long requestId;
    Map<String, Object> message;
    byte[] body;
  }

  static Decoded decode(byte[] frame) {
    ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
    int e = b.getInt(0);
    ByteBuffer env = ByteBuffer.wrap(frame, WireLimits.FRAME_PREFIX_BYTES, e).slice().order(ByteOrder.LITTLE_ENDIAN);
    if (!Envelope.EnvelopeBufferHasIdentifier(env)) throw new IllegalArgumentException("no PGS1 identifier");
    Envelope en = Envelope.getRootAsEnvelope(env);
    Decoded d = new Decoded();
    d.requestId = en.requestId();
    d.message = message(en);
    d.body = java.util.Arrays.copyOfRange(frame, WireLimits.FRAME_PREFIX_BYTES + e, frame.length);
    return d;
  }

  private static Map<String, Object> message(Envelope en) {
    Map<String, Object> m = new LinkedHashMap<>();
    byte type = en.messageType();
    m.put("type", Message.name(type));
    switch (type) {
      case Message.Hello: {
        Hello x = (Hello) en.message(new Hello());
        m.put("protocolVersion", (long) x.protocolVersion());
        m.put("client", orEmpty(x.client()));
        break;
      }
      case Message.HelloAck: {
        HelloAck x = (HelloAck) en.message(new HelloAck());
        m.put("protocolVersion", (long) x.protocolVersion());
        m.put("serverVersion", orEmpty(x.serverVersion()));
        m.put("frameBytesMax", x.frameBytesMax());
        m.put("pushWindow", x.pushWindow());
        m.put("readFrameBytes", x.readFrameBytes());
        m.put("ucxPort", (long) x.ucxPort());
        byte[] a = new byte[x.ucxAddressLength()];
        for (int i = 0; i < a.length; i++) a[i] = (byte) x.ucxAddress(i);
        m.put("ucxAddress", HEX.formatHex(a));
        break;
      }
      case Message.Heartbeat:
        m.put("appId", ((Heartbeat) en.message(new Heartbeat())).appId());
        break;
      case Message.RegisterShuffle: {
        RegisterShuffle x = (RegisterShuffle) en.message(new RegisterShuffle());
        m.put("appId", x.appId());
        m.put("shuffleId", x.shuffleId());
        m.put("numMaps", x.numMaps());
        m.put("numPartitions", x.numPartitions());
        break;
      }
      case Message.UnregisterShuffle: {
        UnregisterShuffle x = (UnregisterShuffle) en.message(new UnregisterShuffle());
        m.put("appId", x.appId());
        m.put("shuffleId", x.shuffleId());
        break;
      }
      case Message.UnregisterApp:
        m.put("appId", ((UnregisterApp) en.message(new UnregisterApp())).appId());
        break;
      case Message.PushBlocks: {
        PushBlocks x = (PushBlocks) en.message(new PushBlocks());
        m.put("appId", x.appId());
        m.put("shuffleId", x.shuffleId());
        List<Object> blocks = new ArrayList<>();
        for (int i = 0; i < x.blocksLength(); i++) blocks.add(blockHeader(x.blocks(new BlockHeader(), i)));
        m.put("blocks", blocks);
        break;
      }
      case Message.CommitMap: {
        CommitMap x = (CommitMap) en.message(new CommitMap());
        m.put("appId", x.appId());
        m.put("shuffleId", x.shuffleId());
        m.put("mapId", x.mapId());
        m.put("attempt", x.attempt());
        m.put("batchCount", x.batchCount());
        break;
      }
      case Message.CommitAck: {
        CommitAck x = (CommitAck) en.message(new CommitAck());
        m.put("won", x.won());
        m.put("winnerAttempt", x.winnerAttempt());
        break;
      }
      case Message.OpenRead: {
        OpenRead x = (OpenRead) en.message(new OpenRead());
        m.put("appId", x.appId());
        m.put("shuffleId", x.shuffleId());
        m.put("partitionStart", x.partitionStart());
        m.put("partitionEnd", x.partitionEnd());
        m.put("mapStart", x.mapStart());
        m.put("mapEnd", x.mapEnd());
        m.put("creditBytes", x.creditBytes());
        break;
      }
      case Message.ReadData: {
        ReadData x = (ReadData) en.message(new ReadData());
        List<Object> blocks = new ArrayList<>();
        for (int i = 0; i < x.blocksLength(); i++) blocks.add(blockHeader(x.blocks(new BlockHeader(), i)));
        m.put("blocks", blocks);
        break;
      }
      case Message.ReadCredit:
        m.put("creditBytes", ((ReadCredit) en.message(new ReadCredit())).creditBytes());
        break;
      case Message.ReadEnd: {
        ReadEnd x = (ReadEnd) en.message(new ReadEnd());
        m.put("blockCount", x.blockCount());
        m.put("byteCount", x.byteCount());
        break;
      }
      case Message.CancelRead:
      case Message.Ack:
        break;
      case Message.Error: {
        Error x = (Error) en.message(new Error());
        m.put("code", (long) x.code());
        m.put("message", orEmpty(x.message()));
        break;
      }
      case Message.PlanRead: {
        PlanRead x = (PlanRead) en.message(new PlanRead());
        m.put("appId", x.appId());
        m.put("shuffleId", x.shuffleId());
        m.put("partitionStart", x.partitionStart());
        m.put("partitionEnd", x.partitionEnd());
        m.put("mapStart", x.mapStart());
        m.put("mapEnd", x.mapEnd());
        break;
      }
      case Message.ReadPlan: {
        ReadPlan x = (ReadPlan) en.message(new ReadPlan());
        m.put("leaseId", x.leaseId());
        List<Object> regions = new ArrayList<>();
        for (int i = 0; i < x.regionsLength(); i++) {
          RegionKey k = x.regions(new RegionKey(), i);
          byte[] a = new byte[k.rkeyLength()];
          for (int j = 0; j < a.length; j++) a[j] = (byte) k.rkey(j);
          regions.add(HEX.formatHex(a));
        }
        m.put("regions", regions);
        List<Object> runs = new ArrayList<>();
        for (int i = 0; i < x.runsLength(); i++) {
          RunLocation r = x.runs(new RunLocation(), i);
          Map<String, Object> run = new LinkedHashMap<>();
          run.put("remoteAddress", Long.toUnsignedString(r.remoteAddress()));
          run.put("length", r.length());
          run.put("partition", r.partition());
          run.put("region", r.region());
          run.put("blockCount", r.blockCount());
          run.put("mapMin", r.mapMin());
          run.put("mapMax", r.mapMax());
          run.put("crc32c", r.hasCrc32c() ? (Object) r.crc32c() : null);
          runs.add(run);
        }
        m.put("runs", runs);
        List<Object> commits = new ArrayList<>();
        for (int i = 0; i < x.commitsLength(); i++) {
          MapCommit c = x.commits(new MapCommit(), i);
          Map<String, Object> commit = new LinkedHashMap<>();
          commit.put("mapId", c.mapId());
          commit.put("attempt", c.attempt());
          commit.put("batchCount", c.batchCount());
          commits.add(commit);
        }
        m.put("commits", commits);
        break;
      }
      case Message.ReleaseRead:
        m.put("leaseId", ((ReleaseRead) en.message(new ReleaseRead())).leaseId());
        break;
      case Message.CreateObject: {
        CreateObject x = (CreateObject) en.message(new CreateObject());
        m.put("path", x.path());
        m.put("overwrite", x.overwrite());
        m.put("ttlMs", x.ttlMs());
        m.put("cache", x.cache());
        break;
      }
      case Message.ObjectCreated:
        m.put("handle", ((ObjectCreated) en.message(new ObjectCreated())).handle());
        break;
      case Message.AppendObject: {
        AppendObject x = (AppendObject) en.message(new AppendObject());
        m.put("handle", x.handle());
        m.put("offset", x.offset());
        m.put("length", x.length());
        m.put("crc32c", x.crc32c());
        break;
      }
      case Message.CloseObject: {
        CloseObject x = (CloseObject) en.message(new CloseObject());
        m.put("handle", x.handle());
        m.put("length", x.length());
        break;
      }
      case Message.AbortObject:
        m.put("handle", ((AbortObject) en.message(new AbortObject())).handle());
        break;
      case Message.StatPath:
        m.put("path", ((StatPath) en.message(new StatPath())).path());
        break;
      case Message.PathStatus:
        m.putAll(pathStatus((PathStatus) en.message(new PathStatus())));
        break;
      case Message.ListDir: {
        ListDir x = (ListDir) en.message(new ListDir());
        m.put("path", x.path());
        m.put("startAfter", orEmpty(x.startAfter()));
        m.put("limit", x.limit());
        break;
      }
      case Message.DirListing: {
        DirListing x = (DirListing) en.message(new DirListing());
        List<Object> entries = new ArrayList<>();
        for (int i = 0; i < x.entriesLength(); i++) entries.add(pathStatus(x.entries(new PathStatus(), i)));
        m.put("entries", entries);
        m.put("more", x.more());
        break;
      }
      case Message.MakeDirs:
        m.put("path", ((MakeDirs) en.message(new MakeDirs())).path());
        break;
      case Message.RenamePath: {
        RenamePath x = (RenamePath) en.message(new RenamePath());
        m.put("from", x.from());
        m.put("to", x.to());
        break;
      }
      case Message.DeletePath: {
        DeletePath x = (DeletePath) en.message(new DeletePath());
        m.put("path", x.path());
        m.put("recursive", x.recursive());
        break;
      }
      case Message.DeleteResult:
        m.put("deleted", ((DeleteResult) en.message(new DeleteResult())).deleted());
        break;
      case Message.OpenObject: {
        OpenObject x = (OpenObject) en.message(new OpenObject());
        m.put("path", x.path());
        m.put("offset", x.offset());
        m.put("length", x.length());
        m.put("creditBytes", x.creditBytes());
        m.put("id", x.id());
        break;
      }
      default:
        throw new IllegalArgumentException("message type " + type);
    }
    return m;
  }

  /** The fields of a BlockHeader struct. */
  static Map<String, Object> blockHeader(BlockHeader h) {
    Map<String, Object> b = new LinkedHashMap<>();
    b.put("attempt", h.attempt());
    b.put("mapId", h.mapId());
    b.put("partition", h.partition());
    b.put("batch", h.batch());
    b.put("seq", h.seq());
    b.put("rawLength", h.rawLength());
    b.put("storedLength", h.storedLength());
    b.put("crc32c", h.crc32c());
    b.put("codec", (long) h.codec());
    return b;
  }

  /** The fields of a PathStatus table (a message of its own, or an entry of a DirListing). */
  private static Map<String, Object> pathStatus(PathStatus x) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", orEmpty(x.name()));
    m.put("kind", (long) x.kind());
    m.put("length", x.length());
    m.put("mtimeMs", x.mtimeMs());
    m.put("id", x.id());
    m.put("ttlMs", x.ttlMs());
    m.put("cache", x.cache());
    m.put("tier", orEmpty(x.tier()));
    return m;
  }

  private static String orEmpty(String s) {
    return s == null ? "" : s;
  }
}
