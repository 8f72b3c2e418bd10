//! The worker address a server hands out (`UcxServer.workerAddress()`) and a client
//! passes to `UcxClient.connectAddress`. It wraps the bytes of
//! ucp_worker_get_address, which list every transport address of the server's
//! worker (shared memory and cma for this host, tcp/verbs devices for others), so
//! UCX picks lanes from all of them instead of network devices only as with the
//! listener. Layout (little endian; UCX.md
//! "Worker address format"):
//!
//! ```text
//! offset  size  field
//!      0     4  magic "PGWA"
//!      4     2  version (1)
//!      6     2  flags (0)
//!      8     4  A = bytes of the ucp worker address
//!     12     A  ucp worker address (ucp_worker_get_address)
//!   12+A     4  CRC32C of bytes [0, 12+A)
//! ```
//! ucp_ep_create trusts the address it is given (it has no length argument), so
//! garbage must be stopped here, before UCX sees it: hence the length and CRC.
use std::ptr;

use crate::errors::{Code, NativeError, NativeResult};
use crate::sys;
use crate::ucx::limits::WORKER_ADDRESS_BYTES_MAX;
use crate::ucx::status;
use crate::ucx::worker::Worker;

pub const MAGIC: [u8; 4] = *b"PGWA";
pub const VERSION: u16 = 1;
const HEADER_BYTES: usize = 12;
const TRAILER_BYTES: usize = 4;

/// Encodes a ucp worker address in the envelope; LIMIT_EXCEEDED if it would pass
/// WORKER_ADDRESS_BYTES_MAX (a host with very many devices; see UCX.md).
pub fn encode(raw: &[u8]) -> NativeResult<Vec<u8>> {
    let total = HEADER_BYTES + raw.len() + TRAILER_BYTES;
    if raw.is_empty() || total > WORKER_ADDRESS_BYTES_MAX {
        return Err(NativeError::new(
            Code::LimitExceeded,
            format!("ucp worker address of {} bytes makes a {total}-byte envelope, limit {WORKER_ADDRESS_BYTES_MAX}", raw.len()),
        ));
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(raw);
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

/// The ucp worker address inside an envelope, or INVALID_ARGUMENT.
pub fn decode(b: &[u8]) -> NativeResult<&[u8]> {
    let bad = |why: String| NativeError::new(Code::InvalidArgument, format!("bad worker address: {why}"));
    if b.len() < HEADER_BYTES + 1 + TRAILER_BYTES || b.len() > WORKER_ADDRESS_BYTES_MAX {
        return Err(bad(format!(
            "{} bytes, expected {}..={WORKER_ADDRESS_BYTES_MAX}",
            b.len(),
            HEADER_BYTES + 1 + TRAILER_BYTES
        )));
    }
    if b[0..4] != MAGIC {
        return Err(bad(format!("magic {:02x?}, expected {:02x?}", &b[0..4], MAGIC)));
    }
    let version = u16::from_le_bytes([b[4], b[5]]);
    if version != VERSION {
        return Err(bad(format!("version {version}, expected {VERSION}")));
    }
    let a = u32::from_le_bytes(b[8..12].try_into().unwrap()) as u64;
    if HEADER_BYTES as u64 + a + TRAILER_BYTES as u64 != b.len() as u64 {
        return Err(bad(format!("address length {a} does not match total {} bytes", b.len())));
    }
    let body = HEADER_BYTES + a as usize;
    let want = u32::from_le_bytes(b[body..body + 4].try_into().unwrap());
    let got = crc32c::crc32c(&b[..body]);
    if want != got {
        return Err(bad(format!("crc32c {got:#010x}, stored {want:#010x}")));
    }
    Ok(&b[HEADER_BYTES..body])
}

/// The worker's address (ucp_worker_get_address), copied and released at once.
/// Called on the worker's progress thread.
pub fn of_worker(worker: &Worker) -> NativeResult<Vec<u8>> {
    let mut addr: *mut sys::ucp_address_t = ptr::null_mut();
    let mut length: usize = 0;
    // SAFETY: worker.raw is live and owned by the calling thread; addr/length are out pointers.
    status::check("ucp_worker_get_address", unsafe { sys::ucp_worker_get_address(worker.raw, &mut addr, &mut length) })?;
    // SAFETY: UCX returned a buffer of `length` bytes at addr, valid until released below.
    let copy = unsafe { std::slice::from_raw_parts(addr as *const u8, length) }.to_vec();
    // SAFETY: addr came from ucp_worker_get_address on this worker and is released once.
    unsafe { sys::ucp_worker_release_address(worker.raw, addr) };
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..300u32).map(|i| (i * 7) as u8).collect()
    }

    #[test]
    fn encoded_address_decodes_to_itself() {
        let raw = sample();
        assert_eq!(decode(&encode(&raw).unwrap()).unwrap(), &raw[..]);
    }

    #[test]
    fn any_flipped_byte_is_rejected_as_invalid_argument() {
        let b = encode(&sample()).unwrap();
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x40;
            assert_eq!(decode(&c).unwrap_err().code, Code::InvalidArgument, "byte {i}");
        }
    }

    #[test]
    fn truncated_extended_and_empty_addresses_are_rejected() {
        let b = encode(&sample()).unwrap();
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_err(), "prefix {n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        assert!(decode(&vec![0u8; WORKER_ADDRESS_BYTES_MAX + 1]).is_err());
    }

    #[test]
    fn an_address_too_large_for_the_envelope_is_limit_exceeded() {
        let raw = vec![1u8; WORKER_ADDRESS_BYTES_MAX];
        assert_eq!(encode(&raw).unwrap_err().code, Code::LimitExceeded);
        assert_eq!(encode(&[]).unwrap_err().code, Code::LimitExceeded);
    }
}
