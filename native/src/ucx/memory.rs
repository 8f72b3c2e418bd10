//! A memory registration with UCP (ucp_mem_map of existing memory) and its packed
//! remote key. Registered and unregistered on the server's progress thread.
use std::ptr;

use crate::errors::NativeResult;
use crate::sys;
use crate::ucx::context::Context;
use crate::ucx::status;

pub struct Registration {
    memh: sys::ucp_mem_h,
    /// ucp_rkey_pack output, copied (the UCX buffer is released right away).
    pub packed_rkey: Vec<u8>,
}

impl Registration {
    pub fn new(context: &Context, address: *mut u8, length: usize) -> NativeResult<Registration> {
        let params = sys::ucp_mem_map_params_t {
            field_mask: (sys::ucp_mem_map_params_field_UCP_MEM_MAP_PARAM_FIELD_ADDRESS
                | sys::ucp_mem_map_params_field_UCP_MEM_MAP_PARAM_FIELD_LENGTH
                | sys::ucp_mem_map_params_field_UCP_MEM_MAP_PARAM_FIELD_PROT) as u64,
            address: address as *mut std::ffi::c_void,
            length,
            prot: sys::UCP_MEM_MAP_PROT_LOCAL_READ | sys::UCP_MEM_MAP_PROT_REMOTE_READ,
            ..Default::default()
        };
        let mut memh: sys::ucp_mem_h = ptr::null_mut();
        // SAFETY: [address, address+length) is a live mapping owned by the caller for
        // longer than this registration; params is initialised; memh is an out pointer.
        status::check("ucp_mem_map", unsafe { sys::ucp_mem_map(context.raw, &params, &mut memh) })?;
        let mut buf: *mut std::ffi::c_void = ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: memh was just created on this context; buf/size are out pointers.
        let st = unsafe { sys::ucp_rkey_pack(context.raw, memh, &mut buf, &mut size) };
        if st != status::OK {
            // SAFETY: memh is ours and unused elsewhere.
            unsafe { sys::ucp_mem_unmap(context.raw, memh) };
            return Err(status::error("ucp_rkey_pack", st));
        }
        // SAFETY: UCX returned a buffer of `size` bytes at buf.
        let packed_rkey = unsafe { std::slice::from_raw_parts(buf as *const u8, size) }.to_vec();
        // SAFETY: buf came from ucp_rkey_pack and is released once.
        unsafe { sys::ucp_rkey_buffer_release(buf) };
        Ok(Registration { memh, packed_rkey })
    }

    /// ucp_mem_unmap. Must be called (once) with the context it was made on.
    pub fn unregister(self, context: &Context) {
        // SAFETY: memh was made by ucp_mem_map on this context and is unmapped once.
        unsafe { sys::ucp_mem_unmap(context.raw, self.memh) };
    }
}

// SAFETY: the handle is only used on the progress thread that owns the context.
unsafe impl Send for Registration {}
