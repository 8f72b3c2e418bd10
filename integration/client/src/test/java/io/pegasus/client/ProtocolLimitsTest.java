package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import pegasus.wire.ProtocolLimits;

/**
 * ProtocolLimits is generated from schemas/limits.json; this checks the compiled class
 * against the data (a build that skipped `npm run gen:check` still catches a stale
 * file) and runs its relation checks, which class loading alone may never do.
 */
class ProtocolLimitsTest {
  @Test
  void everyConstantOfLimitsJsonHasItsValueAndNoOtherIsDeclared() throws Exception {
    Map<String, Object> data = Json.object(Json.read(TestServer.repoRoot().resolve("schemas/limits.json")));
    Set<String> declared = new HashSet<>();
    for (String section : new String[] {"versions", "sizes", "limits"}) {
      for (Object o : Json.array(data.get(section))) {
        Map<String, Object> e = Json.object(o);
        String name = (String) e.get("name");
        declared.add(name);
        Object actual = ProtocolLimits.class.getField(name).get(null);
        Object expected = e.get("value");
        if (expected instanceof Long) assertEquals(((Long) expected).longValue(), ((Number) actual).longValue(), name);
        else assertEquals(expected, actual, name);
      }
    }
    Set<String> fields = new HashSet<>();
    for (Field f : ProtocolLimits.class.getDeclaredFields()) {
      if (Modifier.isPublic(f.getModifiers()) && Modifier.isStatic(f.getModifiers())) fields.add(f.getName());
    }
    assertEquals(declared, fields);
  }

  @Test
  void relationsBetweenTheLimitsHold() {
    ProtocolLimits.checkRelations();
  }

  @Test
  void wireLimitsNamesTheGeneratedValues() {
    assertEquals(ProtocolLimits.BLOCK_HEADER_WIRE_BYTES, WireLimits.BLOCK_HEADER_BYTES);
    assertEquals(ProtocolLimits.PEGASUS_VERSION, WireLimits.CLIENT_VERSION);
    assertTrue(WireLimits.SERVER_FRAME_BYTES_MIN <= WireLimits.FRAME_BYTES_MAX, "server frame minimum within the protocol maximum");
    assertTrue(WireLimits.READ_CREDIT_BYTES_MIN <= WireLimits.READ_CREDIT_BYTES_MAX, "credit bounds ordered");
    assertFalse(WireLimits.FRAME_PREFIX_BYTES + WireLimits.PUSH_ENVELOPE_BYTES_BASE + WireLimits.BLOCK_HEADER_BYTES
        + WireLimits.BLOCK_BYTES_MAX > WireLimits.FRAME_BYTES_MAX, "a largest block fits one PushBlocks frame");
  }
}
