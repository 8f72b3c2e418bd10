package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import pegasus.wire.Codec;
import pegasus.wire.ErrorCode;

class BlockCodecTest {
  @Test
  void compressibleBlocksUseLz4() throws Exception {
    byte[] raw = TestData.text(1, 256 * 1024);
    Block b = BlockCodec.encode(7, raw, true);
    assertEquals(Codec.LZ4, b.codec());
    assertEquals(7, b.partition());
    assertEquals(raw.length, b.rawLength());
    assertTrue(b.storedLength() < raw.length / 4, "stored " + b.storedLength());
    assertEquals(raw.length, b.stored().order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0));
    assertEquals(BlockCodec.crc32c(b.stored()), b.crc32c());
    assertArrayEquals(raw, BlockCodec.decode(b));
  }

  @Test
  void incompressibleOrUncompressedBlocksAreNone() throws Exception {
    byte[] random = TestData.random(2, 100_000);
    Block r = BlockCodec.encode(0, random, true);
    assertEquals(Codec.NONE, r.codec());
    assertEquals(random.length, r.storedLength());
    assertArrayEquals(random, BlockCodec.decode(r));

    byte[] text = TestData.text(3, 50_000);
    Block n = BlockCodec.encode(0, text, 100, 40_000, false);
    assertEquals(Codec.NONE, n.codec());
    assertArrayEquals(Arrays.copyOfRange(text, 100, 40_100), BlockCodec.decode(n));

    Block empty = BlockCodec.encode(0, new byte[0], true);
    assertEquals(0, empty.storedLength());
    assertEquals(0, BlockCodec.decode(empty).length);
  }

  @Test
  void blocksNeverAliasTheCallersArray() throws Exception {
    byte[] raw = TestData.random(4, 1000);
    byte[] copy = raw.clone();
    Block b = BlockCodec.encode(0, raw, false);
    Arrays.fill(raw, (byte) 0);
    assertArrayEquals(copy, BlockCodec.decode(b));
  }

  @Test
  void flippedByteIsChecksumMismatch() {
    for (boolean compress : new boolean[] {true, false}) {
      byte[] raw = compress ? TestData.text(5, 10_000) : TestData.random(5, 10_000);
      Block b = BlockCodec.encode(0, raw, compress);
      byte[] stored = bytes(b.stored());
      stored[stored.length / 2] ^= 0x10;
      Block bad = new Block(0, 0, 0, 0, 0, b.rawLength(), b.crc32c(), b.codec(), ByteBuffer.wrap(stored));
      PegasusException e = assertThrows(PegasusException.class, () -> BlockCodec.decode(bad));
      assertEquals(ErrorCode.CHECKSUM_MISMATCH, e.code());
    }
  }

  @Test
  void badLz4PrefixIsCorruptData() {
    byte[] raw = TestData.text(6, 10_000);
    Block b = BlockCodec.encode(0, raw, true);
    assertEquals(Codec.LZ4, b.codec());
    // A prefix claiming 1 GiB: refused before anything is allocated. The CRC is made to
    // match, so only the prefix check can catch it.
    byte[] stored = bytes(b.stored());
    ByteBuffer.wrap(stored).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, 1 << 30);
    ByteBuffer sb = ByteBuffer.wrap(stored);
    Block bad = new Block(0, 0, 0, 0, 0, b.rawLength(), BlockCodec.crc32c(sb), b.codec(), sb);
    assertEquals(ErrorCode.CORRUPT_DATA, assertThrows(PegasusException.class, () -> BlockCodec.decode(bad)).code());

    // Header and prefix agree but the payload is garbage.
    byte[] garbage = TestData.random(7, 200);
    ByteBuffer.wrap(garbage).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, 5000);
    ByteBuffer gb = ByteBuffer.wrap(garbage);
    Block junk = new Block(0, 0, 0, 0, 0, 5000, BlockCodec.crc32c(gb), (byte) Codec.LZ4, gb);
    assertEquals(ErrorCode.CORRUPT_DATA, assertThrows(PegasusException.class, () -> BlockCodec.decode(junk)).code());

    // NONE whose length differs from raw_length; unknown codec.
    ByteBuffer nb = ByteBuffer.wrap(new byte[10]);
    Block shortNone = new Block(0, 0, 0, 0, 0, 11, BlockCodec.crc32c(nb), (byte) Codec.NONE, nb);
    assertEquals(ErrorCode.CORRUPT_DATA, assertThrows(PegasusException.class, () -> BlockCodec.decode(shortNone)).code());
    Block unknown = new Block(0, 0, 0, 0, 0, 10, BlockCodec.crc32c(nb), (byte) 9, nb);
    assertEquals(ErrorCode.CORRUPT_DATA, assertThrows(PegasusException.class, () -> BlockCodec.decode(unknown)).code());
  }

  /** The TypeScript client's LZ4 blocks (lz4-napi, size prepended) and ours are the same format. */
  @Test
  void lz4FormatMatchesTheTypeScriptClient() throws Exception {
    byte[] raw = TestData.text(8, 70_000);
    Block ours = BlockCodec.encode(0, raw, true);
    String script = String.join("\n",
        "import { compressSync, uncompressSync } from 'lz4-napi';",
        "const raw = Buffer.from(process.argv[1], 'base64');",
        "const ours = Buffer.from(process.argv[2], 'base64');",
        "if (!uncompressSync(ours).equals(raw)) { console.error('mismatch'); process.exit(2); }",
        "process.stdout.write(compressSync(raw).toString('base64'));");
    Process p = new ProcessBuilder("node", "--input-type=module", "-e", script,
        Base64.getEncoder().encodeToString(raw), Base64.getEncoder().encodeToString(bytes(ours.stored())))
        .directory(TestServer.repoRoot().toFile()).redirectErrorStream(true).start();
    String out = readAll(p.getInputStream());
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    ByteBuffer theirs = ByteBuffer.wrap(Base64.getDecoder().decode(out.trim()));
    Block b = new Block(0, 0, 0, 0, 0, raw.length, BlockCodec.crc32c(theirs), (byte) Codec.LZ4, theirs);
    assertArrayEquals(raw, BlockCodec.decode(b));
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }

  private static String readAll(InputStream in) throws java.io.IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    in.transferTo(out);
    return out.toString(StandardCharsets.UTF_8);
  }
}
