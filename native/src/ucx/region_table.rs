//! The server's validity table: one registered array of u64 slots, one per live
//! region, holding that region's generation while it is registered and 0 after.
//! Clients read a region's slot after its data reads completed; if the slot still
//! holds the generation from the region key, the release (which clears the slot
//! before unregistering and tombstoning the memory) had not begun when the data
//! was read, so the bytes are the file's. Generations are never reused.
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::errors::{Code, NativeError, NativeResult};
use crate::ucx::context::Context;
use crate::ucx::limits::SERVER_REGIONS_MAX;
use crate::ucx::memory::Registration;

pub struct RegionTable {
    slots: *mut AtomicU64,
    registration: Option<Registration>,
    free: Vec<u32>,
}

const TABLE_BYTES: usize = SERVER_REGIONS_MAX * 8;

/// Generations are unique in the process (not only per server), and start from the
/// clock so a restarted process does not repeat them: a stale key must never match
/// a slot of a later table that happens to sit at the same address.
fn next_generation() -> u64 {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    let start = || {
        let ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        AtomicU64::new(ns.max(1))
    };
    NEXT.get_or_init(start).fetch_add(1, Ordering::Relaxed)
}

pub struct Slot {
    pub index: u32,
    pub address: u64,
    pub generation: u64,
}

impl RegionTable {
    pub fn new(context: &Context) -> NativeResult<RegionTable> {
        // SAFETY: anonymous private mapping; the kernel picks the address.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                TABLE_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            return Err(NativeError::new(Code::Internal, format!("mmap validity table ({TABLE_BYTES} bytes): {e}")));
        }
        let registration = match Registration::new(context, p as *mut u8, TABLE_BYTES) {
            Ok(r) => r,
            Err(e) => {
                // SAFETY: the mapping made above, unused.
                unsafe { libc::munmap(p, TABLE_BYTES) };
                return Err(e);
            }
        };
        let free = (0..SERVER_REGIONS_MAX as u32).rev().collect();
        Ok(RegionTable { slots: p as *mut AtomicU64, registration: Some(registration), free })
    }

    pub fn packed_rkey(&self) -> &[u8] {
        &self.registration.as_ref().unwrap().packed_rkey
    }

    fn slot(&self, index: u32) -> &AtomicU64 {
        assert!((index as usize) < SERVER_REGIONS_MAX);
        // SAFETY: index is in bounds of the table mapping, which lives as long as self;
        // u64 slots are 8-byte aligned (page-aligned base); remote peers only read them.
        unsafe { &*self.slots.add(index as usize) }
    }

    pub fn acquire(&mut self) -> NativeResult<Slot> {
        let index = self.free.pop().ok_or_else(|| {
            NativeError::new(Code::LimitExceeded, format!("server has {SERVER_REGIONS_MAX} regions registered"))
        })?;
        let generation = next_generation();
        self.slot(index).store(generation, Ordering::SeqCst);
        Ok(Slot { index, address: self.slots as u64 + index as u64 * 8, generation })
    }

    /// Clears the slot: from this store on, clients reject what they read from the region.
    pub fn clear(&mut self, index: u32) {
        self.slot(index).store(0, Ordering::SeqCst);
        self.free.push(index);
    }

    pub fn unregister(&mut self, context: &Context) {
        if let Some(r) = self.registration.take() {
            r.unregister(context);
        }
    }
}

impl Drop for RegionTable {
    fn drop(&mut self) {
        debug_assert!(self.registration.is_none(), "unregister before drop");
        // SAFETY: the table mapping made in new(), unmapped once after unregistration.
        unsafe { libc::munmap(self.slots as *mut libc::c_void, TABLE_BYTES) };
    }
}
