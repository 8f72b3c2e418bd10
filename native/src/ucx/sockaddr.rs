//! host:port to a socket address UCX takes (struct sockaddr_storage), and back.
use std::net::{SocketAddr, ToSocketAddrs};

use crate::errors::{Code, NativeError, NativeResult};

pub struct SockAddr {
    storage: libc::sockaddr_storage,
    pub len: libc::socklen_t,
}

impl SockAddr {
    /// Resolves host (an IP literal or a name; names may block, so callers run this off the JS thread).
    pub fn resolve(host: &str, port: u32) -> NativeResult<SockAddr> {
        if port > u16::MAX as u32 {
            return Err(NativeError::new(Code::InvalidArgument, format!("port {port} is not in 0..=65535")));
        }
        let addr = (host, port as u16)
            .to_socket_addrs()
            .map_err(|e| NativeError::new(Code::InvalidArgument, format!("cannot resolve {host}:{port}: {e}")))?
            .next()
            .ok_or_else(|| NativeError::new(Code::InvalidArgument, format!("{host}:{port} resolves to nothing")))?;
        Ok(Self::from(addr))
    }

    fn from(addr: SocketAddr) -> SockAddr {
        // SAFETY: all-zero sockaddr_storage is valid.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        SockAddr { storage, len: len as libc::socklen_t }
    }

    pub fn as_ucs(&self) -> crate::sys::ucs_sock_addr_t {
        crate::sys::ucs_sock_addr_t { addr: &self.storage as *const _ as *const crate::sys::sockaddr, addrlen: self.len }
    }

    /// The port of a sockaddr_storage that UCX filled in (ucp_listener_query).
    pub fn port_of(storage: *const libc::sockaddr_storage) -> u32 {
        // SAFETY: storage points to a sockaddr_storage filled by UCX; the family says
        // which variant it holds, and both fit inside sockaddr_storage.
        unsafe {
            match (*storage).ss_family as i32 {
                libc::AF_INET => u16::from_be((*(storage as *const libc::sockaddr_in)).sin_port) as u32,
                libc::AF_INET6 => u16::from_be((*(storage as *const libc::sockaddr_in6)).sin6_port) as u32,
                _ => 0,
            }
        }
    }
}

// SAFETY: plain bytes.
unsafe impl Send for SockAddr {}
