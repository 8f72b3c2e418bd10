//! What UCX callbacks record for the progress thread. UCX calls these callbacks from
//! inside ucp_worker_progress (or the non-blocking call itself) on the thread that
//! owns the worker, so each progress thread has its own inbox (thread local). The
//! callbacks only append; drivers take the whole inbox between UCX calls, never
//! holding it across one, so the RefCell is never borrowed twice.
use std::cell::RefCell;

use crate::sys;

#[derive(Default)]
pub struct Inbox {
    /// Endpoints whose error callback fired (ep handle as usize, status).
    pub failed: Vec<(usize, sys::ucs_status_t)>,
    /// Connection requests received by the listener.
    pub conn_requests: Vec<usize>,
    /// Completed requests (token, status).
    pub completions: Vec<(u64, sys::ucs_status_t)>,
}

thread_local! {
    static INBOX: RefCell<Inbox> = RefCell::new(Inbox::default());
}

pub fn take() -> Inbox {
    INBOX.with(|i| std::mem::take(&mut *i.borrow_mut()))
}

pub fn is_empty() -> bool {
    INBOX.with(|i| {
        let i = i.borrow();
        i.failed.is_empty() && i.conn_requests.is_empty() && i.completions.is_empty()
    })
}

pub fn push_completion(token: u64, status: sys::ucs_status_t) {
    INBOX.with(|i| i.borrow_mut().completions.push((token, status)));
}

pub unsafe extern "C" fn on_ep_error(_arg: *mut std::ffi::c_void, ep: sys::ucp_ep_h, status: sys::ucs_status_t) {
    INBOX.with(|i| i.borrow_mut().failed.push((ep as usize, status)));
}

pub unsafe extern "C" fn on_conn_request(req: sys::ucp_conn_request_h, _arg: *mut std::ffi::c_void) {
    INBOX.with(|i| i.borrow_mut().conn_requests.push(req as usize));
}

/// Completion of any non-blocking request posted with a token as user data: records
/// it and frees the request (allowed inside the callback).
pub unsafe extern "C" fn on_request_done(
    request: *mut std::ffi::c_void,
    status: sys::ucs_status_t,
    user_data: *mut std::ffi::c_void,
) {
    push_completion(user_data as u64, status);
    // SAFETY: request is the UCX request this callback reports; freed exactly once, here.
    unsafe { sys::ucp_request_free(request) };
}
