//! One UCP context (ucp_init): the features used here are RMA (one-sided gets and
//! memory registration) and WAKEUP (the worker's event fd, so the progress thread
//! sleeps instead of spinning). Connection setup over sockaddr needs no feature of
//! its own. Transports come from the environment (UCX_TLS, UCX_NET_DEVICES).
use std::ptr;

use crate::errors::NativeResult;
use crate::sys;
use crate::ucx::status;

/// UCX API 1.13 and older: keep the v1 protocols (see Context::new).
const PIN_PROTO_V1: bool = sys::UCP_API_MAJOR == 1 && sys::UCP_API_MINOR <= 13;

pub struct Context {
    pub(crate) raw: sys::ucp_context_h,
}

impl Context {
    /// `reuse_addr` (servers): let a listener bind its port while connections of a
    /// previous process on it linger in TIME_WAIT, so a server killed with -9 can
    /// restart on the same port at once (UCX's CM_REUSEADDR, off by default; an
    /// explicit UCX_CM_REUSEADDR in the environment wins).
    pub fn new(reuse_addr: bool) -> NativeResult<Context> {
        let params = sys::ucp_params_t {
            field_mask: (sys::ucp_params_field_UCP_PARAM_FIELD_FEATURES) as u64,
            features: (sys::ucp_feature_UCP_FEATURE_RMA | sys::ucp_feature_UCP_FEATURE_WAKEUP) as u64,
            ..Default::default()
        };
        let mut config: *mut sys::ucp_config_t = ptr::null_mut();
        // SAFETY: NULL prefix and file read the default UCX_ environment; config is an out pointer.
        status::check("ucp_config_read", unsafe { sys::ucp_config_read(ptr::null(), ptr::null(), &mut config) })?;
        if reuse_addr && std::env::var_os("UCX_CM_REUSEADDR").is_none() {
            // SAFETY: config is live; both strings are NUL-terminated literals. A failure
            // only means this UCX has no such option: the server then works without it.
            unsafe { sys::ucp_config_modify(config, c"CM_REUSEADDR".as_ptr(), c"y".as_ptr()) };
        }
        if PIN_PROTO_V1 {
            // SAFETY: as above. UCX 1.13's experimental protocols (UCX_PROTO_ENABLE=y)
            // abort the process in ucp_ep_reqs_purge when a peer of a PEER-mode endpoint
            // dies with requests outstanding (seen here: SIGKILLed server, client
            // aborts). A killed peer must cost a code, not the process, so they stay off
            // on 1.13 even if the environment asks for them (UCX.md "Transports").
            unsafe { sys::ucp_config_modify(config, c"PROTO_ENABLE".as_ptr(), c"n".as_ptr()) };
        }
        let mut raw: sys::ucp_context_h = ptr::null_mut();
        // SAFETY: params is a valid, fully initialised ucp_params_t; config is live; raw
        // is a valid out pointer.
        let st = unsafe { sys::ucp_init_version(sys::UCP_API_MAJOR, sys::UCP_API_MINOR, &params, config, &mut raw) };
        // SAFETY: config was read above and is no longer needed after ucp_init.
        unsafe { sys::ucp_config_release(config) };
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
