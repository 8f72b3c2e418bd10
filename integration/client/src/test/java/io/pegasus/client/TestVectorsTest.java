package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import pegasus.wire.BlockHeader;
import pegasus.wire.ErrorCode;

/**
 * The shared test vectors (schemas/test-vectors, README.md there), which the TypeScript
 * tests read too: the Java decoders give the vectors' fields and error codes, and the
 * Java encoder's frames carry the vectors' fields (compared decoded: FlatBuffers
 * builders of different languages may lay out the same message differently).
 */
class TestVectorsTest {
  private static final WireReaderHex HEX = new WireReaderHex();

  /** Hex helpers; a class so the vectors' JSON values read naturally below. */
  private static final class WireReaderHex {
    byte[] bytes(Object hex) {
      return WireReader.HEX.parseHex((String) hex);
    }

    String of(byte[] b) {
      return WireReader.HEX.formatHex(b);
    }
  }

  static List<Map<String, Object>> vectors(String file) throws IOException {
    Path p = TestServer.repoRoot().resolve("schemas/test-vectors").resolve(file);
    List<Map<String, Object>> out = new ArrayList<>();
    for (Object v : Json.array(Json.object(Json.read(p)).get("vectors"))) out.add(Json.object(v));
    assertFalse(out.isEmpty(), file + " has no vectors");
    return out;
  }

  private static long num(Map<String, Object> m, String k) {
    return (Long) m.get(k);
  }

  private static int u32(Map<String, Object> m, String k) {
    return (int) num(m, k);
  }

  private static String str(Map<String, Object> m, String k) {
    return (String) m.get(k);
  }

  private static Map<String, Object> message(Map<String, Object> v) {
    return Json.object(v.get("message"));
  }

  private static boolean java(Map<String, Object> v) {
    return Json.array(v.get("clients")).contains("java");
  }

  private static boolean fromServer(Map<String, Object> v) {
    return "server-to-client".equals(v.get("direction"));
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = new byte[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void everyFrameVectorReadsToItsFieldsWithTheGeneratedJavaClasses() throws Exception {
    for (Map<String, Object> v : vectors("frames.json")) {
      WireReader.Decoded d = WireReader.decode(HEX.bytes(v.get("frame")));
      String name = (String) v.get("name");
      assertEquals(num(v, "requestId"), d.requestId, name);
      assertEquals(message(v), d.message, name);
      assertEquals(v.get("body"), HEX.of(d.body), name);
    }
  }

  @Test
  void framesTheJavaClientReceivesDecodeToTheVectorsFieldsAndOthersAreRefused() throws Exception {
    Set<String> decoded = new TreeSet<>();
    for (Map<String, Object> v : vectors("frames.json")) {
      String name = (String) v.get("name");
      byte[] frame = HEX.bytes(v.get("frame"));
      if (!fromServer(v) || !java(v)) {
        // A message a server never sends to this client (a client's own, or a UCX plan).
        PegasusException e = assertThrows(PegasusException.class, () -> Frames.decodeFrame(ByteBuffer.wrap(frame)), name);
        assertEquals("UNKNOWN_MESSAGE", e.codeName(), name);
        continue;
      }
      Frames.Frame f = Frames.decodeFrame(ByteBuffer.wrap(frame));
      Map<String, Object> m = message(v);
      assertEquals(num(v, "requestId"), Integer.toUnsignedLong(f.requestId), name);
      assertEquals(m.get("type"), f.typeName(), name);
      switch (f.typeName()) {
        case "HelloAck":
          assertEquals(num(m, "protocolVersion"), f.protocolVersion, name);
          assertEquals(str(m, "serverVersion"), f.serverVersion, name);
          assertEquals(num(m, "frameBytesMax"), f.frameBytesMax, name);
          assertEquals(num(m, "pushWindow"), f.pushWindow, name);
          assertEquals(num(m, "readFrameBytes"), f.readFrameBytes, name);
          break;
        case "CommitAck":
          assertEquals(m.get("won"), f.won, name);
          assertEquals(num(m, "winnerAttempt"), f.winnerAttempt, name);
          break;
        case "ReadEnd":
          assertEquals(num(m, "blockCount"), f.blockCount, name);
          assertEquals(num(m, "byteCount"), f.byteCount, name);
          break;
        case "Error":
          assertEquals(num(m, "code"), f.errorCode, name);
          assertEquals(str(m, "message"), f.errorMessage, name);
          break;
        case "ReadData": {
          List<Object> headers = Json.array(m.get("blocks"));
          assertEquals(headers.size(), f.blocks.length, name);
          byte[] body = HEX.bytes(v.get("body"));
          int off = 0;
          for (int i = 0; i < headers.size(); i++) {
            Map<String, Object> h = Json.object(headers.get(i));
            Block b = f.blocks[i];
            assertEquals(h, Map.of("attempt", b.attempt(), "mapId", Integer.toUnsignedLong(b.mapId()),
                "partition", Integer.toUnsignedLong(b.partition()), "batch", Integer.toUnsignedLong(b.batch()),
                "seq", Integer.toUnsignedLong(b.seq()), "rawLength", Integer.toUnsignedLong(b.rawLength()),
                "storedLength", (long) b.storedLength(), "crc32c", Integer.toUnsignedLong(b.crc32c()), "codec", (long) b.codec()), name);
            byte[] stored = new byte[b.storedLength()];
            b.stored().get(stored);
            assertArrayEquals(java.util.Arrays.copyOfRange(body, off, off + stored.length), stored, name);
            off += stored.length;
          }
          break;
        }
        case "Ack":
          break;
        case "ObjectCreated":
          assertEquals(num(m, "handle"), f.handle, name);
          break;
        case "PathStatus":
          assertEquals(pathStatusFields(m), pathInfoFields(f.pathInfo), name);
          break;
        case "DirListing": {
          List<Object> entries = Json.array(m.get("entries"));
          assertEquals(entries.size(), f.entries.size(), name);
          for (int i = 0; i < entries.size(); i++) {
            assertEquals(pathStatusFields(Json.object(entries.get(i))), pathInfoFields(f.entries.get(i)), name);
          }
          assertEquals(m.get("more"), f.more, name);
          break;
        }
        case "DeleteResult":
          assertEquals(m.get("deleted"), f.deleted, name);
          break;
        default:
          throw new AssertionError(name + ": no check for " + f.typeName());
      }
      decoded.add(f.typeName());
    }
    assertEquals(new TreeSet<>(List.of("Ack", "CommitAck", "DeleteResult", "DirListing", "Error", "HelloAck", "ObjectCreated",
        "PathStatus", "ReadData", "ReadEnd")), decoded, "the message types a server sends the Java client");
  }

  /** A vector's PathStatus fields in the terms of {@link PathInfo}. */
  private static Map<String, Object> pathStatusFields(Map<String, Object> m) {
    return Map.of("name", m.get("name"), "directory", num(m, "kind") == pegasus.wire.PathKind.DIRECTORY, "length",
        m.get("length"), "mtimeMs", m.get("mtimeMs"), "id", m.get("id"), "ttlMs", m.get("ttlMs"), "cache", m.get("cache"),
        "tier", m.get("tier"));
  }

  private static Map<String, Object> pathInfoFields(PathInfo p) {
    return Map.of("name", p.name(), "directory", p.isDirectory(), "length", p.length(), "mtimeMs", p.mtimeMs(), "id", p.id(),
        "ttlMs", p.ttlMs(), "cache", p.cache(), "tier", p.tier());
  }

  /** The Java client's encoding of a vector's message; the body travels after the envelope. */
  private static byte[] encode(Map<String, Object> v) {
    Map<String, Object> m = message(v);
    int id = u32(v, "requestId");
    byte[] body = HEX.bytes(v.get("body"));
    ByteBuffer env;
    switch ((String) m.get("type")) {
      case "Hello":
        env = Frames.hello(id, u32(m, "protocolVersion"), str(m, "client"));
        break;
      case "Heartbeat":
        env = Frames.heartbeat(id, str(m, "appId"));
        break;
      case "RegisterShuffle":
        env = Frames.registerShuffle(id, str(m, "appId"), u32(m, "shuffleId"), u32(m, "numMaps"), u32(m, "numPartitions"));
        break;
      case "UnregisterShuffle":
        env = Frames.unregisterShuffle(id, str(m, "appId"), u32(m, "shuffleId"));
        break;
      case "UnregisterApp":
        env = Frames.unregisterApp(id, str(m, "appId"));
        break;
      case "PushBlocks": {
        List<Block> blocks = new ArrayList<>();
        int off = 0;
        for (Object o : Json.array(m.get("blocks"))) {
          Map<String, Object> h = Json.object(o);
          int stored = u32(h, "storedLength");
          blocks.add(new Block(num(h, "attempt"), u32(h, "mapId"), u32(h, "partition"), u32(h, "batch"), u32(h, "seq"),
              u32(h, "rawLength"), u32(h, "crc32c"), (byte) num(h, "codec"), ByteBuffer.wrap(body, off, stored)));
          off += stored;
        }
        env = Frames.pushBlocks(id, str(m, "appId"), u32(m, "shuffleId"), blocks);
        break;
      }
      case "CommitMap":
        env = Frames.commitMap(id, str(m, "appId"), u32(m, "shuffleId"), u32(m, "mapId"), num(m, "attempt"), u32(m, "batchCount"));
        break;
      case "OpenRead":
        env = Frames.openRead(id, str(m, "appId"), u32(m, "shuffleId"), u32(m, "partitionStart"), u32(m, "partitionEnd"),
            u32(m, "mapStart"), u32(m, "mapEnd"), u32(m, "creditBytes"));
        break;
      case "ReadCredit":
        env = Frames.readCredit(id, u32(m, "creditBytes"));
        break;
      case "CancelRead":
        env = Frames.cancelRead(id);
        break;
      case "CreateObject":
        assertEquals(false, m.get("cache"), v.get("name") + ": the Java client creates no cache objects");
        env = Frames.createObject(id, str(m, "path"), (Boolean) m.get("overwrite"), num(m, "ttlMs"));
        break;
      case "AppendObject":
        env = Frames.appendObject(id, num(m, "handle"), num(m, "offset"), u32(m, "length"), u32(m, "crc32c"));
        break;
      case "CloseObject":
        env = Frames.closeObject(id, num(m, "handle"), num(m, "length"));
        break;
      case "AbortObject":
        env = Frames.abortObject(id, num(m, "handle"));
        break;
      case "StatPath":
        env = Frames.statPath(id, str(m, "path"));
        break;
      case "ListDir":
        env = Frames.listDir(id, str(m, "path"), str(m, "startAfter"), u32(m, "limit"));
        break;
      case "MakeDirs":
        env = Frames.makeDirs(id, str(m, "path"));
        break;
      case "RenamePath":
        env = Frames.renamePath(id, str(m, "from"), str(m, "to"));
        break;
      case "DeletePath":
        env = Frames.deletePath(id, str(m, "path"), (Boolean) m.get("recursive"));
        break;
      case "OpenObject":
        env = Frames.openObject(id, str(m, "path"), num(m, "offset"), num(m, "length"), u32(m, "creditBytes"), num(m, "id"));
        break;
      default:
        throw new AssertionError(v.get("name") + ": the Java client does not send " + m.get("type"));
    }
    byte[] head = new byte[env.remaining()];
    env.duplicate().get(head);
    return concat(head, body);
  }

  @Test
  void theJavaEncoderWritesTheVectorsFieldsForEveryMessageTheJavaClientSends() throws Exception {
    Set<String> types = new TreeSet<>();
    for (Map<String, Object> v : vectors("frames.json")) {
      if (fromServer(v) || !java(v)) continue;
      String name = (String) v.get("name");
      byte[] frame = encode(v);
      assertEquals(ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).getInt(0), frame.length - 4 - HEX.bytes(v.get("body")).length, name);
      WireReader.Decoded d = WireReader.decode(frame);
      assertEquals(num(v, "requestId"), d.requestId, name);
      assertEquals(message(v), d.message, name);
      assertEquals(v.get("body"), HEX.of(d.body), name);
      types.add((String) message(v).get("type"));
    }
    assertEquals(new TreeSet<>(List.of("AbortObject", "AppendObject", "CancelRead", "CloseObject", "CommitMap", "CreateObject",
        "DeletePath", "Heartbeat", "Hello", "ListDir", "MakeDirs", "OpenObject", "OpenRead", "PushBlocks", "ReadCredit",
        "RegisterShuffle", "RenamePath", "StatPath", "UnregisterApp", "UnregisterShuffle")), types);
  }

  @Test
  void invalidFramesAreRefusedWithTheVectorsCode() throws Exception {
    for (Map<String, Object> v : vectors("invalid-frames.json")) {
      String name = v.get("name") + " (" + v.get("why") + ")";
      byte[] frame = HEX.bytes(v.get("frame"));
      PegasusException e = assertThrows(PegasusException.class, () -> Frames.decodeFrame(ByteBuffer.wrap(frame)), name);
      assertEquals(v.get("error"), e.codeName(), name + ": " + e.getMessage());
    }
  }

  @Test
  void blockHeaderStructsReadToTheirFields() throws Exception {
    for (Map<String, Object> v : vectors("block-headers.json")) {
      BlockHeader h = new BlockHeader().__assign(0, ByteBuffer.wrap(HEX.bytes(v.get("wire"))).order(ByteOrder.LITTLE_ENDIAN));
      assertEquals(Json.object(v.get("header")), WireReader.blockHeader(h), (String) v.get("name"));
    }
  }

  @Test
  void blocksDecodeToTheirRawBytesOrFailWithTheVectorsCode() throws Exception {
    for (Map<String, Object> v : vectors("blocks.json")) {
      String name = (String) v.get("name");
      Block b = new Block(1, 0, 0, 0, 0, u32(v, "rawLength"), u32(v, "crc32c"), (byte) num(v, "codec"),
          ByteBuffer.wrap(HEX.bytes(v.get("stored"))));
      if (v.containsKey("raw")) {
        byte[] raw = HEX.bytes(v.get("raw"));
        assertArrayEquals(raw, BlockCodec.decode(b), name);
        // The Java encoder's form of the same bytes decodes back to them (its LZ4 output may differ from the vector's).
        assertArrayEquals(raw, BlockCodec.decode(BlockCodec.encode(0, raw, b.codec() != pegasus.wire.Codec.NONE)), name);
      } else {
        PegasusException e = assertThrows(PegasusException.class, () -> BlockCodec.decode(b), name);
        assertEquals(v.get("error"), e.codeName(), name + ": " + e.getMessage());
      }
    }
  }

  @Test
  void crc32cOfEveryVectorPieceAfterPiece() throws Exception {
    for (Map<String, Object> v : vectors("crc32c.json")) {
      CRC32C c = new CRC32C();
      byte[] all = new byte[0];
      for (Object part : Json.array(v.get("parts"))) {
        byte[] p = HEX.bytes(part);
        c.update(p);
        all = concat(all, p);
      }
      assertEquals(num(v, "crc32c"), c.getValue(), (String) v.get("name"));
      assertEquals(num(v, "crc32c"), Integer.toUnsignedLong(BlockCodec.crc32c(ByteBuffer.wrap(all))), (String) v.get("name"));
    }
  }

  @Test
  void errorCodeNamesOfTheVectorsAreTheJavaEnumsNames() throws Exception {
    // The vectors name codes; PegasusException.codeName() must use the same names.
    assertEquals("MALFORMED_FRAME", ErrorCode.name(ErrorCode.MALFORMED_FRAME));
    for (Map<String, Object> v : vectors("invalid-frames.json")) {
      boolean known = false;
      for (String n : ErrorCode.names) known |= n.equals(v.get("error"));
      assertEquals(true, known, v.get("name") + ": " + v.get("error"));
    }
  }
}
