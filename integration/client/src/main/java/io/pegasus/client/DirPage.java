package io.pegasus.client;

import java.util.List;

/** One page of a directory listing (the wire's {@code DirListing}): entries in name order, and whether more follow. */
public final class DirPage {
  private final List<PathInfo> entries;
  private final boolean more;

  public DirPage(List<PathInfo> entries, boolean more) {
    this.entries = List.copyOf(entries);
    this.more = more;
  }

  /** The entries; each {@link PathInfo#name()} is the last component of its path. */
  public List<PathInfo> entries() {
    return entries;
  }

  /** More entries follow the last one: the next page starts after its name. */
  public boolean more() {
    return more;
  }
}
