//! One UCP context (ucp_init): the features used here are RMA (one-sided gets and
//! memory registration) and WAKEUP (the worker's event fd, so the progress thread
//! sleeps instead of spinning). Connection setup over sockaddr needs no feature of
//! its own. Transports come from the environment (UCX_TLS, UCX_NET_DEVICES).
use std::ptr;

use crate::errors::NativeResult;
use crate::sys;
use crate::ucx::status;

pub struct Context {
    pub(crate) raw: sys::ucp_context_h,
}

impl Context {
    pub fn new() -> NativeResult<Context> {
        let params = sys::ucp_params_t {
            field_mask: (sys::ucp_params_field_UCP_PARAM_FIELD_FEATURES) as u64,
            features: (sys::ucp_feature_UCP_FEATURE_RMA | sys::ucp_feature_UCP_FEATURE_WAKEUP) as u64,
            ..Default::default()
        };
        let mut raw: sys::ucp_context_h = ptr::null_mut();
        // SAFETY: params is a valid, fully initialised ucp_params_t; a NULL config makes
        // UCX read its configuration from the environment; raw is a valid out pointer.
        let st = unsafe {
            sys::ucp_init_version(sys::UCP_API_MAJOR, sys::UCP_API_MINOR, &params, ptr::null(), &mut raw)
        };
        status::check("ucp_init", st)?;
        Ok(Context { raw })
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: raw came from ucp_init and every worker of it was destroyed before
        // (the Worker holds the context and is dropped first by the progress thread).
        unsafe { sys::ucp_cleanup(self.raw) }
    }
}
