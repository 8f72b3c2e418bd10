//! Endpoint operations: create (from a connection request, to a sockaddr, or to a
//! worker address), with
//! UCP_ERR_HANDLING_MODE_PEER and the error callback on both sides; flush; get;
//! forced close. Non-blocking calls report completion by token through the inbox:
//! `Posted::Done` / `Failed` when they finished in place, `Pending` otherwise.
use std::ptr;

use crate::errors::NativeResult;
use crate::sys;
use crate::ucx::inbox;
use crate::ucx::sockaddr::SockAddr;
use crate::ucx::status::{self, StatusPtr};
use crate::ucx::worker::Worker;

pub enum Posted {
    Done,
    Failed(sys::ucs_status_t),
    Pending,
}

fn error_handling(params: &mut sys::ucp_ep_params_t) {
    params.field_mask |= (sys::ucp_ep_params_field_UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE
        | sys::ucp_ep_params_field_UCP_EP_PARAM_FIELD_ERR_HANDLER) as u64;
    params.err_mode = sys::ucp_err_handling_mode_t_UCP_ERR_HANDLING_MODE_PEER;
    params.err_handler = sys::ucp_err_handler_t { cb: Some(inbox::on_ep_error), arg: ptr::null_mut() };
}

/// Server side: accept a connection request from the listener.
pub fn accept(worker: &Worker, conn_request: sys::ucp_conn_request_h) -> NativeResult<sys::ucp_ep_h> {
    let mut params = sys::ucp_ep_params_t {
        field_mask: sys::ucp_ep_params_field_UCP_EP_PARAM_FIELD_CONN_REQUEST as u64,
        conn_request,
        ..Default::default()
    };
    error_handling(&mut params);
    let mut ep: sys::ucp_ep_h = ptr::null_mut();
    // SAFETY: conn_request came from this worker's listener callback and is consumed
    // once; params is initialised; ep is an out pointer.
    status::check("ucp_ep_create (accept)", unsafe { sys::ucp_ep_create(worker.raw, &params, &mut ep) })?;
    Ok(ep)
}

/// Client side: connect to a listener's address.
pub fn connect(worker: &Worker, addr: &SockAddr) -> NativeResult<sys::ucp_ep_h> {
    let mut params = sys::ucp_ep_params_t {
        field_mask: (sys::ucp_ep_params_field_UCP_EP_PARAM_FIELD_SOCK_ADDR
            | sys::ucp_ep_params_field_UCP_EP_PARAM_FIELD_FLAGS) as u64,
        flags: sys::ucp_ep_params_flags_field_UCP_EP_PARAMS_FLAGS_CLIENT_SERVER,
        sockaddr: addr.as_ucs(),
        ..Default::default()
    };
    error_handling(&mut params);
    let mut ep: sys::ucp_ep_h = ptr::null_mut();
    // SAFETY: addr outlives the call (UCX copies it); params is initialised.
    status::check("ucp_ep_create (connect)", unsafe { sys::ucp_ep_create(worker.raw, &params, &mut ep) })?;
    Ok(ep)
}

/// Client side: an endpoint to the worker whose ucp address is `raw` (checked by
/// worker_address::decode first). UCX chooses the lanes from both workers'
/// transports that support PEER error handling (UCX 1.13: tcp or verbs, not its
/// shared-memory transports; UCX.md "Transports used here").
pub fn connect_address(worker: &Worker, raw: &[u8]) -> NativeResult<sys::ucp_ep_h> {
    let mut params = sys::ucp_ep_params_t {
        field_mask: sys::ucp_ep_params_field_UCP_EP_PARAM_FIELD_REMOTE_ADDRESS as u64,
        address: raw.as_ptr() as *const sys::ucp_address_t,
        ..Default::default()
    };
    error_handling(&mut params);
    let mut ep: sys::ucp_ep_h = ptr::null_mut();
    // SAFETY: raw is a whole address made by ucp_worker_get_address (its envelope's
    // length and CRC were checked); UCX unpacks it during the call and keeps no pointer.
    status::check("ucp_ep_create (address)", unsafe { sys::ucp_ep_create(worker.raw, &params, &mut ep) })?;
    Ok(ep)
}

fn request_params(token: u64) -> sys::ucp_request_param_t {
    let mut p = sys::ucp_request_param_t {
        op_attr_mask: sys::ucp_op_attr_t_UCP_OP_ATTR_FIELD_CALLBACK | sys::ucp_op_attr_t_UCP_OP_ATTR_FIELD_USER_DATA,
        user_data: token as *mut std::ffi::c_void,
        ..Default::default()
    };
    p.cb.send = Some(inbox::on_request_done);
    p
}

fn posted(p: sys::ucs_status_ptr_t) -> Posted {
    match status::classify(p) {
        StatusPtr::Done => Posted::Done,
        StatusPtr::Failed(s) => Posted::Failed(s),
        StatusPtr::Pending(_) => Posted::Pending,
    }
}

pub fn flush(ep: sys::ucp_ep_h, token: u64) -> Posted {
    let p = request_params(token);
    // SAFETY: ep is a live endpoint of the calling progress thread's worker.
    posted(unsafe { sys::ucp_ep_flush_nbx(ep, &p) })
}

/// One-sided get of `length` bytes at `remote` into `dst`.
///
/// # Safety
/// `dst` must stay valid for `length` bytes until the completion for `token` is
/// recorded (or this returns Done/Failed); `rkey` must be unpacked on `ep` and live.
pub unsafe fn get(
    ep: sys::ucp_ep_h,
    dst: *mut u8,
    length: usize,
    remote: u64,
    rkey: sys::ucp_rkey_h,
    token: u64,
) -> Posted {
    let p = request_params(token);
    // SAFETY: guaranteed by the caller (see above); p is initialised.
    posted(unsafe { sys::ucp_get_nbx(ep, dst as *mut std::ffi::c_void, length, remote, rkey, &p) })
}

/// Forced close: outstanding requests of the endpoint complete with an error. The
/// endpoint handle must not be used after this call.
pub fn close_force(ep: sys::ucp_ep_h, token: u64) -> Posted {
    let mut p = request_params(token);
    p.op_attr_mask |= sys::ucp_op_attr_t_UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = sys::ucp_ep_close_flags_t_UCP_EP_CLOSE_FLAG_FORCE;
    // SAFETY: ep is live and closed once (callers drop the handle after this).
    posted(unsafe { sys::ucp_ep_close_nbx(ep, &p) })
}

/// The endpoint's transport configuration as ucp_ep_print_info writes it.
pub fn info_text(ep: sys::ucp_ep_h) -> String {
    let mut buf: *mut libc::c_char = ptr::null_mut();
    let mut size: libc::size_t = 0;
    // SAFETY: buf/size are out pointers; the stream is closed below before buf is read,
    // and buf (malloc'd by the C library) is freed once.
    unsafe {
        let f = libc::open_memstream(&mut buf, &mut size);
        if f.is_null() {
            return String::new();
        }
        sys::ucp_ep_print_info(ep, f as *mut sys::FILE);
        libc::fclose(f);
        if buf.is_null() {
            return String::new();
        }
        let text = String::from_utf8_lossy(std::slice::from_raw_parts(buf as *const u8, size)).into_owned();
        libc::free(buf as *mut libc::c_void);
        text
    }
}

/// The lane lines of `info_text` ("lane[0]:  2:tcp/lo.0 md[1] -> ... am am_bw#0"), trimmed.
pub fn lanes_of(info: &str) -> String {
    info.lines()
        .filter(|l| l.contains("lane["))
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes the endpoint's transport configuration (lanes, transports, devices) to stderr
/// when PEGASUS_UCX_PRINT_EP is set, so tests and operators can see what UCX chose.
pub fn maybe_print_info(ep: sys::ucp_ep_h) {
    if std::env::var_os("PEGASUS_UCX_PRINT_EP").is_none() {
        return;
    }
    // SAFETY: fd 2 is stderr; fdopen of a dup'd fd gives a FILE we close after use.
    unsafe {
        let fd = libc::dup(2);
        let f = libc::fdopen(fd, c"w".as_ptr());
        if !f.is_null() {
            sys::ucp_ep_print_info(ep, f as *mut sys::FILE);
            libc::fclose(f);
        }
    }
}
