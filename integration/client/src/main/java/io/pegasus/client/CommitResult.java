package io.pegasus.client;

/**
 * The server's answer to CommitMap. {@code won} is true when this attempt's output is
 * the one readers see; otherwise {@code winnerAttempt} names the attempt that committed first.
 */
public record CommitResult(boolean won, long winnerAttempt) {}
