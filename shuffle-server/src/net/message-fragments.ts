// How one outgoing message (a head, then body parts) is cut into WebSocket
// fragments (RFC 6455 section 5.4: one message, a first frame and continuation
// frames; every client reassembles them, it is the same message on the wire
// protocol's level, schemas/FRAMING.md).
//
// Why. A ReadData message used to be built by copying the envelope and every
// block's bytes into one new frame buffer, which uWS then copied again into
// the socket: two copies of every byte served on the event loop, and a
// megabyte-sized allocation per message that drove V8's garbage collection
// (about a quarter of the main thread's busy time in reads, measured with
// --cpu-prof). Now block data of FRAGMENT_ZERO_COPY_BYTES_MIN or more goes to
// uWS as a fragment of its own, straight from the read window, and only small
// pieces (the head, small blocks) are copied together, into a scratch buffer
// the connection reuses: uWS copies a fragment before send returns.
//
// Thread contract: event loop only (the scratch buffer is the caller's).

/** One fragment: a part sent as is, or a run of parts [from, to) copied together. */
export type Fragment =
  | { kind: 'part'; index: number }
  | { kind: 'copy'; from: number; to: number; bytes: number };

/**
 * The fragments of a message made of `parts` (the head first), in order. A
 * part of at least `zeroCopyMin` bytes is a fragment of its own; the parts
 * between them are copied together, up to `copyMax` bytes per fragment (a part
 * below zeroCopyMin is never split, so copyMax must be at least zeroCopyMin).
 * Empty parts are dropped; a message with no bytes is one empty copy fragment.
 */
export function planFragments(parts: readonly Uint8Array[], zeroCopyMin: number, copyMax: number): Fragment[] {
  if (copyMax < zeroCopyMin) throw new RangeError(`copyMax ${copyMax} < zeroCopyMin ${zeroCopyMin}`);
  const out: Fragment[] = [];
  let from = -1;
  let bytes = 0;
  const flush = (to: number): void => {
    if (from >= 0) out.push({ kind: 'copy', from, to, bytes });
    from = -1;
    bytes = 0;
  };
  for (let i = 0; i < parts.length; i++) {
    const n = parts[i]!.length;
    if (n === 0) continue;
    if (n >= zeroCopyMin) {
      flush(i);
      out.push({ kind: 'part', index: i });
      continue;
    }
    if (from >= 0 && bytes + n > copyMax) flush(i);
    if (from < 0) from = i;
    bytes += n;
  }
  flush(parts.length);
  if (out.length === 0) out.push({ kind: 'copy', from: 0, to: 0, bytes: 0 });
  return out;
}

/** The bytes of `f`: the part itself, or its parts copied into `scratch` (at least f.bytes long). */
export function fragmentBytes(f: Fragment, parts: readonly Uint8Array[], scratch: Buffer): Uint8Array {
  if (f.kind === 'part') return parts[f.index]!;
  let pos = 0;
  for (let i = f.from; i < f.to; i++) {
    const p = parts[i]!;
    scratch.set(p, pos);
    pos += p.length;
  }
  return scratch.subarray(0, pos);
}
