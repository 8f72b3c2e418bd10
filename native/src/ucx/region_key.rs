//! The region key a server hands out (`UcxRegion.rkey`) and a client passes back in
//! each read. It wraps the two ucp packed remote keys a read needs (the region's,
//! and the server's validity table's) with the numbers that let the client check a
//! read before posting it and check after reading that the region was still
//! registered. Layout (little endian; UCX.md "Region key format"):
//!
//! ```text
//! offset  size  field
//!      0     4  magic "PGRK"
//!      4     2  version (1)
//!      6     2  flags (0)
//!      8     8  region generation (never 0)
//!     16     8  validity slot address (remote; holds the generation while registered)
//!     24     8  region base address (remote)
//!     32     8  region length in bytes
//!     40     4  D = length of the region's packed ucp rkey
//!     44     4  T = length of the validity table's packed ucp rkey
//!     48     D  region packed rkey (ucp_rkey_pack)
//!   48+D     T  table packed rkey (ucp_rkey_pack)
//! 48+D+T     4  CRC32C of bytes [0, 48+D+T)
//! ```
//! Packed ucp keys have no length of their own and ucp_ep_rkey_unpack trusts its
//! input, so garbage must be stopped here, before UCX sees it: hence lengths and CRC.
use crate::errors::{Code, NativeError, NativeResult};
use crate::ucx::limits::REGION_KEY_BYTES_MAX;

pub const MAGIC: [u8; 4] = *b"PGRK";
pub const VERSION: u16 = 1;
const HEADER_BYTES: usize = 48;
const TRAILER_BYTES: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionKey {
    pub generation: u64,
    pub slot_address: u64,
    pub base_address: u64,
    pub length: u64,
    pub region_rkey: Vec<u8>,
    pub table_rkey: Vec<u8>,
}

impl RegionKey {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES + self.region_rkey.len() + self.table_rkey.len() + TRAILER_BYTES);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.slot_address.to_le_bytes());
        out.extend_from_slice(&self.base_address.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&(self.region_rkey.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.table_rkey.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.region_rkey);
        out.extend_from_slice(&self.table_rkey);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn decode(b: &[u8]) -> NativeResult<RegionKey> {
        let bad = |why: String| NativeError::new(Code::InvalidArgument, format!("bad region key: {why}"));
        if b.len() < HEADER_BYTES + TRAILER_BYTES || b.len() > REGION_KEY_BYTES_MAX {
            return Err(bad(format!(
                "{} bytes, expected {}..={REGION_KEY_BYTES_MAX}",
                b.len(),
                HEADER_BYTES + TRAILER_BYTES
            )));
        }
        if b[0..4] != MAGIC {
            return Err(bad(format!("magic {:02x?}, expected {:02x?}", &b[0..4], MAGIC)));
        }
        let u16_at = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        if u16_at(4) != VERSION {
            return Err(bad(format!("version {}, expected {VERSION}", u16_at(4))));
        }
        let d = u32_at(40) as usize;
        let t = u32_at(44) as usize;
        let body = HEADER_BYTES as u64 + d as u64 + t as u64;
        if body + TRAILER_BYTES as u64 != b.len() as u64 {
            return Err(bad(format!("key lengths {d}+{t} do not match total {} bytes", b.len())));
        }
        let body = body as usize;
        let want = u32_at(body);
        let got = crc32c::crc32c(&b[..body]);
        if want != got {
            return Err(bad(format!("crc32c {got:#010x}, stored {want:#010x}")));
        }
        let key = RegionKey {
            generation: u64_at(8),
            slot_address: u64_at(16),
            base_address: u64_at(24),
            length: u64_at(32),
            region_rkey: b[HEADER_BYTES..HEADER_BYTES + d].to_vec(),
            table_rkey: b[HEADER_BYTES + d..body].to_vec(),
        };
        if key.generation == 0 || d == 0 || t == 0 {
            return Err(bad(format!("generation {} or key lengths {d}, {t} are zero", key.generation)));
        }
        Ok(key)
    }

    /// Checks that [address, address+length) lies inside the region.
    pub fn check_range(&self, address: u64, length: u64) -> NativeResult<()> {
        let end = address.checked_add(length);
        let region_end = self.base_address + self.length;
        match end {
            Some(e) if address >= self.base_address && e <= region_end => Ok(()),
            _ => Err(NativeError::new(
                Code::InvalidArgument,
                format!(
                    "read [{address:#x}, +{length}) is outside region [{:#x}, +{})",
                    self.base_address, self.length
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RegionKey {
        RegionKey {
            generation: 7,
            slot_address: 0x1000,
            base_address: 0x7f00_0000_0000,
            length: 4096,
            region_rkey: vec![1, 2, 3],
            table_rkey: vec![9; 20],
        }
    }

    #[test]
    fn encoded_key_decodes_to_itself() {
        let k = sample();
        assert_eq!(RegionKey::decode(&k.encode()).unwrap(), k);
    }

    #[test]
    fn any_flipped_byte_is_rejected_as_invalid_argument() {
        let b = sample().encode();
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x40;
            let e = RegionKey::decode(&c).unwrap_err();
            assert_eq!(e.code, Code::InvalidArgument, "byte {i}");
        }
    }

    #[test]
    fn truncated_and_empty_keys_are_rejected() {
        let b = sample().encode();
        for n in 0..b.len() {
            assert!(RegionKey::decode(&b[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn reads_outside_the_region_are_rejected() {
        let k = sample();
        assert!(k.check_range(k.base_address, 4096).is_ok());
        assert!(k.check_range(k.base_address + 1, 4096).is_err());
        assert!(k.check_range(k.base_address - 1, 1).is_err());
        assert!(k.check_range(u64::MAX, 2).is_err());
    }
}
