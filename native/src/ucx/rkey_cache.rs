//! Unpacked remote keys of one client, keyed by the packed key bytes, so a get of a
//! region already read costs no ucp_ep_rkey_unpack. Entries in use by a get are
//! pinned (users > 0); an unused one is evicted when the cache is full. All keys
//! are destroyed before the endpoint is closed (ucp_rkey_destroy's rule).
use std::collections::HashMap;
use std::ptr;

use crate::errors::{Code, NativeError, NativeResult};
use crate::sys;
use crate::ucx::limits::CLIENT_RKEYS_MAX;
use crate::ucx::status;

struct Entry {
    rkey: sys::ucp_rkey_h,
    users: u32,
}

#[derive(Default)]
pub struct RkeyCache {
    map: HashMap<Vec<u8>, Entry>,
}

impl RkeyCache {
    /// The unpacked key for `packed`, pinned until `release(packed)`.
    ///
    /// `packed` must be a key that passed RegionKey::decode (length and CRC checked):
    /// ucp_ep_rkey_unpack has no length argument and trusts its input.
    pub fn acquire(&mut self, ep: sys::ucp_ep_h, packed: &[u8]) -> NativeResult<sys::ucp_rkey_h> {
        if let Some(e) = self.map.get_mut(packed) {
            e.users += 1;
            return Ok(e.rkey);
        }
        if self.map.len() >= CLIENT_RKEYS_MAX {
            self.evict_one()?;
        }
        let mut rkey: sys::ucp_rkey_h = ptr::null_mut();
        // SAFETY: ep is this client's live endpoint; packed holds a whole packed key
        // (checked by the region key's lengths and CRC); rkey is an out pointer.
        let st = unsafe { sys::ucp_ep_rkey_unpack(ep, packed.as_ptr() as *const std::ffi::c_void, &mut rkey) };
        if st != status::OK {
            return Err(NativeError::new(
                Code::InvalidArgument,
                format!("remote key of {} bytes does not unpack: {}", packed.len(), status::text(st)),
            ));
        }
        self.map.insert(packed.to_vec(), Entry { rkey, users: 1 });
        Ok(rkey)
    }

    pub fn release(&mut self, packed: &[u8]) {
        if let Some(e) = self.map.get_mut(packed) {
            e.users = e.users.saturating_sub(1);
        }
    }

    fn evict_one(&mut self) -> NativeResult<()> {
        let victim = self.map.iter().find(|(_, e)| e.users == 0).map(|(k, _)| k.clone());
        match victim {
            Some(k) => {
                let e = self.map.remove(&k).unwrap();
                // SAFETY: no get uses this key (users == 0); destroyed once.
                unsafe { sys::ucp_rkey_destroy(e.rkey) };
                Ok(())
            }
            None => Err(NativeError::new(
                Code::LimitExceeded,
                format!("{CLIENT_RKEYS_MAX} remote keys are in use by outstanding gets"),
            )),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Destroys every key. Call only when no request using them is outstanding.
    pub fn destroy_all(&mut self) {
        for (_, e) in self.map.drain() {
            // SAFETY: the caller guarantees no outstanding request uses the key; once each.
            unsafe { sys::ucp_rkey_destroy(e.rkey) };
        }
    }
}
