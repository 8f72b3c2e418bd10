//! Validation of one `UcxClient.get` call before anything reaches UCX: counts,
//! lengths, region keys and ranges. Pure logic; runs off the progress thread.
use crate::errors::{Code, NativeError, NativeResult};
use crate::ucx::limits::{GET_BYTES_MAX, GET_READS_MAX};
use crate::ucx::region_key::RegionKey;

pub struct PlannedRead {
    pub remote_address: u64,
    pub length: usize,
    /// Where the read's bytes start in the result buffer.
    pub buf_offset: usize,
    pub key: RegionKey,
}

pub struct GetPlan {
    pub reads: Vec<PlannedRead>,
    pub total_bytes: usize,
}

/// One read as JavaScript gave it (address, region key bytes, length).
pub struct ReadRequest<'a> {
    pub remote_address: u64,
    pub key: &'a [u8],
    pub length: u64,
}

pub fn plan(reads: &[ReadRequest<'_>]) -> NativeResult<GetPlan> {
    let invalid = |m: String| NativeError::new(Code::InvalidArgument, m);
    if reads.is_empty() {
        return Err(invalid("get needs at least one read".into()));
    }
    if reads.len() > GET_READS_MAX {
        return Err(NativeError::new(
            Code::LimitExceeded,
            format!("get has {} reads, at most {GET_READS_MAX} allowed", reads.len()),
        ));
    }
    let mut total: u64 = 0;
    let mut out = Vec::with_capacity(reads.len());
    for (i, r) in reads.iter().enumerate() {
        if r.length == 0 {
            return Err(invalid(format!("read {i} has length 0")));
        }
        if r.length > GET_BYTES_MAX || total + r.length > GET_BYTES_MAX {
            return Err(invalid(format!(
                "get of more than {GET_BYTES_MAX} bytes (read {i} of {} bytes after {total})",
                r.length
            )));
        }
        let key = RegionKey::decode(r.key).map_err(|e| invalid(format!("read {i}: {}", e.message)))?;
        key.check_range(r.remote_address, r.length).map_err(|e| invalid(format!("read {i}: {}", e.message)))?;
        out.push(PlannedRead {
            remote_address: r.remote_address,
            length: r.length as usize,
            buf_offset: total as usize,
            key,
        });
        total += r.length;
    }
    Ok(GetPlan { reads: out, total_bytes: total as usize })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Vec<u8> {
        RegionKey {
            generation: 1,
            slot_address: 8,
            base_address: 0x10000,
            length: 1 << 20,
            region_rkey: vec![1],
            table_rkey: vec![2],
        }
        .encode()
    }

    #[test]
    fn reads_are_laid_out_back_to_back_in_order() {
        let k = key();
        let reads = [
            ReadRequest { remote_address: 0x10000, key: &k, length: 10 },
            ReadRequest { remote_address: 0x10005, key: &k, length: 3 },
        ];
        let p = plan(&reads).unwrap();
        assert_eq!(p.total_bytes, 13);
        assert_eq!(p.reads[1].buf_offset, 10);
    }

    #[test]
    fn zero_lengths_oversized_gets_and_garbage_keys_are_invalid_arguments() {
        let k = key();
        let zero = [ReadRequest { remote_address: 0x10000, key: &k, length: 0 }];
        assert_eq!(plan(&zero).err().unwrap().code, Code::InvalidArgument);
        let big = [ReadRequest { remote_address: 0x10000, key: &k, length: GET_BYTES_MAX + 1 }];
        assert_eq!(plan(&big).err().unwrap().code, Code::InvalidArgument);
        let garbage = [ReadRequest { remote_address: 0x10000, key: &[7u8; 64], length: 1 }];
        assert_eq!(plan(&garbage).err().unwrap().code, Code::InvalidArgument);
        let outside = [ReadRequest { remote_address: 0x10000 + (1 << 20), key: &k, length: 1 }];
        assert_eq!(plan(&outside).err().unwrap().code, Code::InvalidArgument);
        assert_eq!(plan(&[]).err().unwrap().code, Code::InvalidArgument);
    }
}
