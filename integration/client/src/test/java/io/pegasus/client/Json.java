package io.pegasus.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader for the shared test data (schemas/limits.json,
 * schemas/test-vectors/*.json), so the client's tests need no JSON library: the
 * client has none on its class path. Objects become {@code LinkedHashMap<String, Object>},
 * arrays {@code List<Object>}, integers {@code Long} (the files hold only safe
 * integers), other numbers {@code Double}, plus {@code String}, {@code Boolean} and null.
 */
final class Json {
  private final String text;
  private int at;

  private Json(String text) {
    this.text = text;
  }

  static Object parse(String text) {
    Json j = new Json(text);
    Object v = j.value();
    j.space();
    if (j.at != text.length()) throw j.error("text after the value");
    return v;
  }

  static Object read(Path file) throws IOException {
    return parse(new String(Files.readAllBytes(file), StandardCharsets.UTF_8));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> object(Object v) {
    return (Map<String, Object>) v;
  }

  @SuppressWarnings("unchecked")
  static List<Object> array(Object v) {
    return (List<Object>) v;
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException("JSON: " + what + " at character " + at);
  }

  private void space() {
    while (at < text.length() && Character.isWhitespace(text.charAt(at))) at++;
  }

  private char next() {
    space();
    if (at >= text.length()) throw error("unexpected end");
    return text.charAt(at);
  }

  private void expect(char c) {
    if (next() != c) throw error("expected '" + c + "'");
    at++;
  }

  private Object value() {
    char c = next();
    switch (c) {
      case '{': {
        at++;
        Map<String, Object> m = new LinkedHashMap<>();
        if (next() == '}') {
          at++;
          return m;
        }
        do {
          if (next() != '"') throw error("expected a key");
          String k = string();
          expect(':');
          if (m.put(k, value()) != null) throw error("key " + k + " twice");
        } while (comma());
        expect('}');
        return m;
      }
      case '[': {
        at++;
        List<Object> l = new ArrayList<>();
        if (next() == ']') {
          at++;
          return l;
        }
        do {
          l.add(value());
        } while (comma());
        expect(']');
        return l;
      }
      case '"':
        return string();
      default:
        if (text.startsWith("true", at)) {
          at += 4;
          return Boolean.TRUE;
        }
        if (text.startsWith("false", at)) {
          at += 5;
          return Boolean.FALSE;
        }
        if (text.startsWith("null", at)) {
          at += 4;
          return null;
        }
        return number();
    }
  }

  private boolean comma() {
    if (next() == ',') {
      at++;
      return true;
    }
    return false;
  }

  private String string() {
    at++; // the opening quote
    StringBuilder sb = new StringBuilder();
    for (;;) {
      if (at >= text.length()) throw error("unterminated string");
      char c = text.charAt(at++);
      if (c == '"') return sb.toString();
      if (c != '\\') {
        sb.append(c);
        continue;
      }
      if (at >= text.length()) throw error("unterminated escape");
      char e = text.charAt(at++);
      switch (e) {
        case '"': case '\\': case '/': sb.append(e); break;
        case 'b': sb.append('\b'); break;
        case 'f': sb.append('\f'); break;
        case 'n': sb.append('\n'); break;
        case 'r': sb.append('\r'); break;
        case 't': sb.append('\t'); break;
        case 'u':
          if (at + 4 > text.length()) throw error("short \\u escape");
          sb.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
          at += 4;
          break;
        default:
          throw error("bad escape \\" + e);
      }
    }
  }

  private Object number() {
    int start = at;
    while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) at++;
    String s = text.substring(start, at);
    if (s.isEmpty()) throw error("unexpected character '" + text.charAt(start) + "'");
    if (s.matches("-?\\d+")) return Long.parseLong(s);
    return Double.parseDouble(s);
  }
}
