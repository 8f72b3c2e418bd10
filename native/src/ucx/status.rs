//! `ucs_status_t` and `ucs_status_ptr_t` helpers. UCS_PTR_IS_ERR, UCS_PTR_STATUS and
//! friends are C macros, reimplemented here; and the one mapping from a UCX status
//! to a wire error code.
use std::ffi::CStr;

use crate::errors::{Code, NativeError};
use crate::sys;

pub const OK: sys::ucs_status_t = sys::ucs_status_t_UCS_OK;
pub const INPROGRESS: sys::ucs_status_t = sys::ucs_status_t_UCS_INPROGRESS;
pub const ERR_BUSY: sys::ucs_status_t = sys::ucs_status_t_UCS_ERR_BUSY;
pub const ERR_CANCELED: sys::ucs_status_t = sys::ucs_status_t_UCS_ERR_CANCELED;

/// What a `ucs_status_ptr_t` returned by a non-blocking call means (UCS_PTR_IS_PTR etc.).
pub enum StatusPtr {
    /// Completed in place (NULL, UCS_OK).
    Done,
    /// Failed in place (UCS_PTR_IS_ERR).
    Failed(sys::ucs_status_t),
    /// A request that completes later through its callback.
    Pending(*mut std::ffi::c_void),
}

pub fn classify(p: sys::ucs_status_ptr_t) -> StatusPtr {
    let v = p as isize;
    if v == 0 {
        StatusPtr::Done
    } else if v < 0 && v >= sys::ucs_status_t_UCS_ERR_LAST as isize {
        // UCS_PTR_IS_ERR: errors are encoded as small negative pointer values.
        StatusPtr::Failed(v as sys::ucs_status_t)
    } else {
        StatusPtr::Pending(p)
    }
}

pub fn text(status: sys::ucs_status_t) -> String {
    // SAFETY: ucs_status_string returns a pointer to a static NUL-terminated string for any value.
    unsafe { CStr::from_ptr(sys::ucs_status_string(status)) }.to_string_lossy().into_owned()
}

/// Statuses that mean the peer is gone or the endpoint failed.
pub fn is_connection_failure(status: sys::ucs_status_t) -> bool {
    matches!(
        status,
        sys::ucs_status_t_UCS_ERR_UNREACHABLE
            | sys::ucs_status_t_UCS_ERR_CONNECTION_RESET
            | sys::ucs_status_t_UCS_ERR_NOT_CONNECTED
            | sys::ucs_status_t_UCS_ERR_REJECTED
            | sys::ucs_status_t_UCS_ERR_TIMED_OUT
            | sys::ucs_status_t_UCS_ERR_IO_ERROR
    ) || (sys::ucs_status_t_UCS_ERR_LAST_ENDPOINT_FAILURE..=sys::ucs_status_t_UCS_ERR_FIRST_LINK_FAILURE)
        .contains(&status)
}

/// The wire code for a failed UCX operation, with the operation named in the message.
pub fn error(what: &str, status: sys::ucs_status_t) -> NativeError {
    let code = if is_connection_failure(status) {
        Code::ConnectionClosed
    } else if status == sys::ucs_status_t_UCS_ERR_NO_MEMORY || status == sys::ucs_status_t_UCS_ERR_EXCEEDS_LIMIT {
        Code::LimitExceeded
    } else {
        Code::Internal
    };
    NativeError::new(code, format!("{what} failed: {} ({status})", text(status)))
}

/// `Ok(())` for UCS_OK, else the mapped error.
pub fn check(what: &str, status: sys::ucs_status_t) -> Result<(), NativeError> {
    if status == OK {
        Ok(())
    } else {
        Err(error(what, status))
    }
}
