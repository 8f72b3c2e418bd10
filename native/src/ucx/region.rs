//! `UcxRegion`, the JavaScript handle of a registered file range on a server.
//! The region itself lives on the server's progress thread (server_region.rs);
//! this handle carries what readers need (address, length, region key) and asks
//! the progress thread to release it.
use std::sync::Arc;

use napi::bindgen_prelude::{BigInt, Buffer};
use napi::Result;
use napi_derive::napi;
use tokio::sync::oneshot;

use crate::errors::map_error;
use crate::ucx::mailbox::{await_reply, Mailbox};
use crate::ucx::server::ServerCommand;

#[napi]
pub struct UcxRegion {
    pub(crate) mailbox: Arc<Mailbox<ServerCommand>>,
    pub(crate) id: u64,
    pub(crate) address: u64,
    pub(crate) length: u64,
    pub(crate) key: Vec<u8>,
}

#[napi]
impl UcxRegion {
    /// Remote virtual address of byte 0 of the mapping.
    #[napi(getter)]
    pub fn address(&self) -> BigInt {
        BigInt::from(self.address)
    }

    /// Bytes registered, from offset 0 of the file.
    #[napi(getter)]
    pub fn length(&self) -> i64 {
        self.length as i64
    }

    /// The region key readers pass with each read (UCX.md "Region key format"),
    /// wrapping the ucp_rkey_pack output. A new Buffer on each call.
    #[napi(getter)]
    pub fn rkey(&self) -> Buffer {
        Buffer::from(self.key.clone())
    }

    /// Unregisters the region and unmaps the file, on the progress thread between
    /// progress calls. Idempotent; resolves at once if the server is closed (close
    /// released every region).
    #[napi]
    pub async fn release(&self) -> Result<()> {
        if self.mailbox.is_closing() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        match self.mailbox.post(ServerCommand::Release { id: self.id, reply: tx }) {
            Ok(()) => {}
            Err(e) if e.code == crate::errors::Code::ShuttingDown => return Ok(()),
            Err(e) => return Err(map_error(e)),
        }
        match await_reply(rx, "UcxServer").await {
            Ok(()) => Ok(()),
            Err(e) if e.code == crate::errors::Code::ShuttingDown => Ok(()),
            Err(e) => Err(map_error(e)),
        }
    }
}
