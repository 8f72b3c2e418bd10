//! UCX one-sided read path (filled in by the UCX work).
