package io.pegasus.client;

/**
 * What a path of the objects namespace names (the wire's {@code PathStatus},
 * FRAMING.md "Objects"): a file or a directory. Immutable.
 *
 * <p>{@code name} is the full path for {@link Connection#statPath} and
 * {@link Connection#closeObject}, the last component in a {@link Connection#listDir} page.
 * {@code id} identifies the file (or directory); a reader pins it
 * ({@link ObjectReader}). {@code mtimeMs} is when the file was closed or the directory
 * made. {@code tier} is the storage tier of a file's first segment ({@code kind:path}),
 * empty for a directory or an empty file.
 */
public final class PathInfo {
  private final String name;
  private final boolean directory;
  private final long length;
  private final long mtimeMs;
  private final long id;
  private final long ttlMs;
  private final boolean cache;
  private final String tier;

  public PathInfo(String name, boolean directory, long length, long mtimeMs, long id, long ttlMs, boolean cache, String tier) {
    this.name = name;
    this.directory = directory;
    this.length = length;
    this.mtimeMs = mtimeMs;
    this.id = id;
    this.ttlMs = ttlMs;
    this.cache = cache;
    this.tier = tier;
  }

  public String name() {
    return name;
  }

  public boolean isDirectory() {
    return directory;
  }

  public boolean isFile() {
    return !directory;
  }

  /** Bytes of a file; 0 for a directory. */
  public long length() {
    return length;
  }

  public long mtimeMs() {
    return mtimeMs;
  }

  public long id() {
    return id;
  }

  /** 0: the file never expires; else it expires this long after {@link #mtimeMs()}. */
  public long ttlMs() {
    return ttlMs;
  }

  public boolean cache() {
    return cache;
  }

  public String tier() {
    return tier;
  }

  @Override
  public String toString() {
    return "PathInfo{" + name + ", " + (directory ? "directory" : "file, " + length + " bytes") + ", id=" + id
        + ", mtimeMs=" + mtimeMs + (ttlMs == 0 ? "" : ", ttlMs=" + ttlMs) + (tier.isEmpty() ? "" : ", tier=" + tier) + "}";
  }
}
