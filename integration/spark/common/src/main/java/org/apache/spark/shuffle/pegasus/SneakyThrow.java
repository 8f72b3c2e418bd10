package org.apache.spark.shuffle.pegasus;

/**
 * Throws a checked exception from code that cannot declare it (Scala iterators). Spark
 * expects FetchFailedException to leave a reduce task's iterator exactly like that: Scala
 * has no checked exceptions, and the executor looks for it by type.
 */
final class SneakyThrow {
  private SneakyThrow() {}

  static RuntimeException sneaky(Throwable t) {
    SneakyThrow.<RuntimeException>raise(t);
    return new IllegalStateException("unreachable");
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> void raise(Throwable t) throws E {
    throw (E) t;
  }
}
