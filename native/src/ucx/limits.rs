//! Every bound of the UCX read path, declared once. Relations between them are
//! asserted at compile time below, so a change that breaks one fails the build.

/// Endpoints (connected clients) one server accepts; further connection requests are rejected.
pub const SERVER_ENDPOINTS_MAX: usize = 1024;
/// Regions registered on one server at a time (also the size of its validity table).
pub const SERVER_REGIONS_MAX: usize = 65536;
/// Bytes of one region (one mapping); a segment file is far smaller.
pub const REGION_BYTES_MAX: u64 = 64 << 30;
/// Commands queued from JavaScript to one progress thread before posting fails with LIMIT_EXCEEDED.
pub const COMMAND_QUEUE_MAX: usize = 4096;
/// Reads in one `UcxClient.get` call.
pub const GET_READS_MAX: usize = 4096;
/// Bytes returned by one `UcxClient.get` call (the size of the one Buffer it fills).
pub const GET_BYTES_MAX: u64 = 1 << 30;
/// A read is posted as chunks of at most this many bytes, so the in-flight bound below has teeth.
pub const GET_CHUNK_BYTES_MAX: usize = 8 << 20;
/// Gets (calls) outstanding on one client, including ones that timed out but whose
/// requests have not completed yet (their buffer stays alive until they do).
pub const CLIENT_GETS_MAX: usize = 1024;
/// ucp_get_nbx requests in flight on one client.
pub const CLIENT_REQUESTS_IN_FLIGHT_MAX: usize = 64;
/// Bytes of ucp_get_nbx requests in flight on one client.
pub const CLIENT_BYTES_IN_FLIGHT_MAX: usize = 64 << 20;
/// Unpacked remote keys cached by one client (keyed by the packed key bytes).
pub const CLIENT_RKEYS_MAX: usize = 8192;
/// Bytes of one region key envelope (see UCX.md "Region key format").
pub const REGION_KEY_BYTES_MAX: usize = 4096;
/// Bytes of one worker address envelope (see UCX.md "Worker address format"). It
/// travels in the control plane's HelloAck, so it stays well under that message's 4 KiB.
pub const WORKER_ADDRESS_BYTES_MAX: usize = 2048;
/// Longest timeout a caller may pass (connect or get), in milliseconds.
pub const TIMEOUT_MS_MAX: u32 = 600_000;
/// The progress thread wakes at least this often even with nothing to do
/// (to notice close requests and deadlines without relying only on the wakeup fd).
pub const PROGRESS_IDLE_WAIT_MS: i32 = 100;
/// How long a close waits for outstanding requests to complete before forcing the endpoint closed.
pub const CLOSE_DRAIN_MS: u64 = 2000;

// Completion tokens carry (get id << TOKEN_INDEX_BITS | chunk index).
pub const TOKEN_INDEX_BITS: u32 = 24;

const _: () = assert!(GET_CHUNK_BYTES_MAX <= CLIENT_BYTES_IN_FLIGHT_MAX);
const _: () = assert!(GET_BYTES_MAX <= REGION_BYTES_MAX);
// Chunks of one get plus one validity read per read must fit the token's index bits.
const _: () = assert!(
    (GET_BYTES_MAX as usize / GET_CHUNK_BYTES_MAX + 2 * GET_READS_MAX) < (1usize << TOKEN_INDEX_BITS)
);
// One get pins at most one region key per read plus one table key per server it
// reads from, so a lone get of GET_READS_MAX reads always fits the cache.
const _: () = assert!(CLIENT_RKEYS_MAX >= 2 * GET_READS_MAX);
const _: () = assert!(WORKER_ADDRESS_BYTES_MAX <= 4096 / 2);
const _: () = assert!(SERVER_REGIONS_MAX <= u32::MAX as usize);
