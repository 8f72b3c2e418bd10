//! `UcxServer`: a UCP context, worker and listener, and the progress thread that
//! serves one-sided gets from registered regions. Thread contract: every UCX call
//! on the worker (listener, endpoints, registration) is made by the progress
//! thread; JavaScript posts commands (mailbox.rs) and reads counters (Stats).
//! The server never trusts a client: a failed or vanished peer only costs its
//! endpoint, and connection requests beyond SERVER_ENDPOINTS_MAX are rejected.
use std::collections::{HashMap, HashSet};
use std::ptr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::Buffer;
use napi::Result;
use napi_derive::napi;
use tokio::sync::oneshot;

use crate::errors::{map_error, Code, NativeError, NativeResult};
use crate::sys;
use crate::ucx::endpoint::{self, Posted};
use crate::ucx::inbox;
use crate::ucx::limits::{CLOSE_DRAIN_MS, SERVER_ENDPOINTS_MAX};
use crate::ucx::mailbox::{await_reply, Mailbox};
use crate::ucx::mapping::{FileMapping, Tombstone};
use crate::ucx::memory::Registration;
use crate::ucx::progress::{self, Driver};
use crate::ucx::region::UcxRegion;
use crate::ucx::region_key::RegionKey;
use crate::ucx::region_table::RegionTable;
use crate::ucx::server_region::ServerRegion;
use crate::ucx::sockaddr::SockAddr;
use crate::ucx::status;
use crate::ucx::worker::Worker;
use crate::ucx::worker_address;
use crate::ucx::context::Context;

pub enum ServerCommand {
    Register { mapping: FileMapping, reply: oneshot::Sender<NativeResult<RegionInfo>> },
    Release { id: u64, reply: oneshot::Sender<NativeResult<()>> },
}

pub struct RegionInfo {
    id: u64,
    address: u64,
    length: u64,
    key: Vec<u8>,
}

#[derive(Default)]
struct Stats {
    endpoints: AtomicU32,
    regions: AtomicU32,
    registered_bytes: AtomicU64,
}

/// Token of endpoint close requests (the server posts no other requests).
const CLOSE_TOKEN: u64 = u64::MAX;

struct ServerDriver {
    listener: sys::ucp_listener_h,
    endpoints: HashSet<usize>,
    closes_pending: usize,
    regions: HashMap<u64, ServerRegion>,
    tombstones: Vec<Tombstone>,
    table: RegionTable,
    next_region_id: u64,
    stats: Arc<Stats>,
    close_deadline: Option<Instant>,
}

impl ServerDriver {
    fn close_endpoint(&mut self, ep: usize) {
        if self.endpoints.remove(&ep) {
            if let Posted::Pending = endpoint::close_force(ep as sys::ucp_ep_h, CLOSE_TOKEN) {
                self.closes_pending += 1;
            }
            self.stats.endpoints.store(self.endpoints.len() as u32, Ordering::Relaxed);
        }
    }

    fn reject(&self, req: usize) {
        // SAFETY: req is a connection request of this listener not yet consumed; the
        // listener is alive (it is destroyed only after the inbox was drained).
        unsafe { sys::ucp_listener_reject(self.listener, req as sys::ucp_conn_request_h) };
    }

    fn register(&mut self, context: &Context, mapping: FileMapping) -> NativeResult<RegionInfo> {
        let slot = self.table.acquire()?;
        let registration = match Registration::new(context, mapping.ptr, mapping.length) {
            Ok(r) => r,
            Err(e) => {
                self.table.clear(slot.index);
                return Err(NativeError::new(e.code, format!("register {} bytes: {}", mapping.length, e.message)));
            }
        };
        let key = RegionKey {
            generation: slot.generation,
            slot_address: slot.address,
            base_address: mapping.ptr as u64,
            length: mapping.length as u64,
            region_rkey: registration.packed_rkey.clone(),
            table_rkey: self.table.packed_rkey().to_vec(),
        };
        let id = self.next_region_id;
        self.next_region_id += 1;
        let info = RegionInfo { id, address: mapping.ptr as u64, length: mapping.length as u64, key: key.encode() };
        self.stats.registered_bytes.fetch_add(mapping.length as u64, Ordering::Relaxed);
        self.regions.insert(id, ServerRegion { mapping, registration, slot_index: slot.index });
        self.stats.regions.store(self.regions.len() as u32, Ordering::Relaxed);
        Ok(info)
    }

    fn release(&mut self, context: &Context, id: u64) {
        if let Some(r) = self.regions.remove(&id) {
            self.stats.registered_bytes.fetch_sub(r.mapping.length as u64, Ordering::Relaxed);
            if let Some(t) = r.release(context, &mut self.table) {
                self.tombstones.push(t);
            }
            self.stats.regions.store(self.regions.len() as u32, Ordering::Relaxed);
        }
    }
}

impl Driver for ServerDriver {
    type Command = ServerCommand;

    fn after_progress(&mut self, worker: &Worker, _now: Instant) {
        if inbox::is_empty() {
            return;
        }
        let events = inbox::take();
        for (ep, _status) in events.failed {
            self.close_endpoint(ep);
        }
        for req in events.conn_requests {
            if self.close_deadline.is_some() || self.endpoints.len() >= SERVER_ENDPOINTS_MAX {
                self.reject(req);
                continue;
            }
            match endpoint::accept(worker, req as sys::ucp_conn_request_h) {
                Ok(ep) => {
                    endpoint::maybe_print_info(ep);
                    self.endpoints.insert(ep as usize);
                    self.stats.endpoints.store(self.endpoints.len() as u32, Ordering::Relaxed);
                }
                Err(_) => {} // the request is consumed either way; the client sees its endpoint fail
            }
        }
        for (token, _status) in events.completions {
            if token == CLOSE_TOKEN {
                self.closes_pending = self.closes_pending.saturating_sub(1);
            }
        }
    }

    fn command(&mut self, worker: &Worker, cmd: ServerCommand) {
        match cmd {
            ServerCommand::Register { mapping, reply } => {
                let _ = reply.send(self.register(&worker.context, mapping));
            }
            ServerCommand::Release { id, reply } => {
                self.release(&worker.context, id);
                let _ = reply.send(Ok(()));
            }
        }
    }

    fn begin_close(&mut self, worker: &Worker) {
        self.close_deadline = Some(Instant::now() + Duration::from_millis(CLOSE_DRAIN_MS));
        // Reject requests that arrived before the listener goes away.
        self.after_progress(worker, Instant::now());
        if !self.listener.is_null() {
            // SAFETY: the listener was created on this worker and is destroyed once.
            unsafe { sys::ucp_listener_destroy(self.listener) };
            self.listener = ptr::null_mut();
        }
        let eps: Vec<usize> = self.endpoints.iter().copied().collect();
        for ep in eps {
            self.close_endpoint(ep);
        }
        let ids: Vec<u64> = self.regions.keys().copied().collect();
        for id in ids {
            self.release(&worker.context, id);
        }
    }

    fn closed(&self) -> bool {
        self.closes_pending == 0 || self.close_deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.close_deadline
    }

    fn teardown(&mut self, worker: &Worker) {
        let ids: Vec<u64> = self.regions.keys().copied().collect();
        for id in ids {
            self.release(&worker.context, id);
        }
        self.table.unregister(&worker.context);
        self.tombstones.clear();
        // Connection requests still queued are dropped with the listener/worker.
        let _ = inbox::take();
    }

    fn refuse(&mut self, cmd: ServerCommand) {
        let e = || NativeError::new(Code::ShuttingDown, "UcxServer is closed");
        match cmd {
            ServerCommand::Register { reply, .. } => {
                let _ = reply.send(Err(e()));
            }
            ServerCommand::Release { reply, .. } => {
                let _ = reply.send(Ok(()));
            }
        }
    }
}

fn create_listener(worker: &Worker, addr: &SockAddr) -> NativeResult<(sys::ucp_listener_h, u32)> {
    let params = sys::ucp_listener_params_t {
        field_mask: (sys::ucp_listener_params_field_UCP_LISTENER_PARAM_FIELD_SOCK_ADDR
            | sys::ucp_listener_params_field_UCP_LISTENER_PARAM_FIELD_CONN_HANDLER) as u64,
        sockaddr: addr.as_ucs(),
        conn_handler: sys::ucp_listener_conn_handler_t { cb: Some(inbox::on_conn_request), arg: ptr::null_mut() },
        ..Default::default()
    };
    let mut listener: sys::ucp_listener_h = ptr::null_mut();
    // SAFETY: worker is live and owned by this thread; params and addr outlive the call.
    let st = unsafe { sys::ucp_listener_create(worker.raw, &params, &mut listener) };
    if st != status::OK {
        let e = status::error("ucp_listener_create", st);
        let code = if st == sys::ucs_status_t_UCS_ERR_BUSY { Code::InvalidArgument } else { e.code };
        return Err(NativeError::new(code, format!("listen: {}", e.message)));
    }
    let mut attr = sys::ucp_listener_attr_t {
        field_mask: sys::ucp_listener_attr_field_UCP_LISTENER_ATTR_FIELD_SOCKADDR as u64,
        ..Default::default()
    };
    // SAFETY: listener was just created; attr is an out struct with its field mask set.
    let st = unsafe { sys::ucp_listener_query(listener, &mut attr) };
    if st != status::OK {
        // SAFETY: listener created above, destroyed once.
        unsafe { sys::ucp_listener_destroy(listener) };
        return Err(status::error("ucp_listener_query", st));
    }
    let port = SockAddr::port_of(&attr.sockaddr as *const _ as *const libc::sockaddr_storage);
    Ok((listener, port))
}

/// What a started server thread hands back: its mailbox, counters, bound port and
/// worker address envelope (or why there is none).
type Started = (Arc<Mailbox<ServerCommand>>, Arc<Stats>, u32, NativeResult<Vec<u8>>);

fn spawn(host: String, port: u32) -> oneshot::Receiver<NativeResult<Started>> {
    let (tx, rx) = oneshot::channel();
    let (mailbox, cmd_rx): (Mailbox<ServerCommand>, Receiver<ServerCommand>) = Mailbox::new("UcxServer");
    let mailbox = Arc::new(mailbox);
    let spawned = std::thread::Builder::new().name("pegasus-ucx-server".into()).spawn(move || {
        let stats = Arc::new(Stats::default());
        let setup = || -> NativeResult<(Worker, ServerDriver, u32, NativeResult<Vec<u8>>)> {
            let addr = SockAddr::resolve(&host, port)?;
            let worker = Worker::new(Context::new(true)?)?;
            let table = RegionTable::new(&worker.context)?;
            let (listener, bound) = match create_listener(&worker, &addr) {
                Ok(l) => l,
                Err(e) => {
                    let mut table = table;
                    table.unregister(&worker.context);
                    return Err(e);
                }
            };
            let driver = ServerDriver {
                listener,
                endpoints: HashSet::new(),
                closes_pending: 0,
                regions: HashMap::new(),
                tombstones: Vec::new(),
                table,
                next_region_id: 1,
                stats: stats.clone(),
                close_deadline: None,
            };
            // The address does not change over the worker's life: taken once, here.
            let address = worker_address::of_worker(&worker).and_then(|raw| worker_address::encode(&raw));
            Ok((worker, driver, bound, address))
        };
        match setup() {
            Err(e) => {
                mailbox.finish_close();
                let _ = tx.send(Err(e));
            }
            Ok((worker, driver, bound, address)) => {
                mailbox.waker.attach(&worker);
                let _ = tx.send(Ok((mailbox.clone(), stats, bound, address)));
                progress::run(worker, driver, mailbox, cmd_rx);
            }
        }
    });
    if let Err(e) = spawned {
        // tx was moved into the closure that failed to start; rx then reports SHUTTING_DOWN.
        eprintln!("pegasus-native: cannot spawn UCX server thread: {e}");
    }
    rx
}

/// Counters of a UcxServer (read without asking the progress thread).
#[napi(object)]
pub struct UcxServerStats {
    pub endpoints: u32,
    pub regions: u32,
    pub registered_bytes: f64,
}

#[napi]
pub struct UcxServer {
    mailbox: Arc<Mailbox<ServerCommand>>,
    stats: Arc<Stats>,
    port: u32,
    /// The worker address envelope (worker_address.rs), or why there is none.
    address: NativeResult<Vec<u8>>,
}

fn js_length(length: f64, what: &str) -> NativeResult<u64> {
    if !(length.is_finite() && length >= 0.0 && length.fract() == 0.0 && length <= (1u64 << 53) as f64) {
        return Err(NativeError::new(Code::InvalidArgument, format!("{what} {length} is not a non-negative integer")));
    }
    Ok(length as u64)
}

#[napi]
impl UcxServer {
    /// Starts a server: UCP context (RMA, WAKEUP), worker, listener on host:port
    /// (0 = any free port) and its progress thread.
    #[napi]
    pub async fn start(host: String, port: u32) -> Result<UcxServer> {
        let (mailbox, stats, port, address) = await_reply(spawn(host, port), "UcxServer").await.map_err(map_error)?;
        Ok(UcxServer { mailbox, stats, port, address })
    }

    /// The worker's address (ucp_worker_get_address in a versioned, CRC-checked
    /// envelope, at most WORKER_ADDRESS_BYTES_MAX bytes) for `UcxClient.connectAddress`.
    /// Meaningful only while this server lives; a restarted server has a new one.
    #[napi]
    pub fn worker_address(&self) -> Result<Buffer> {
        match &self.address {
            Ok(a) => Ok(Buffer::from(a.clone())),
            Err(e) => Err(map_error(e.clone())),
        }
    }

    /// The bound port.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Maps bytes [0, length) of `path` read-only and registers them for remote reads.
    #[napi]
    pub async fn register(&self, path: String, length: f64) -> Result<UcxRegion> {
        if self.mailbox.is_closing() {
            return Err(map_error(self.mailbox.shutting_down()));
        }
        let length = js_length(length, "region length").map_err(map_error)?;
        let mapping = tokio::task::spawn_blocking(move || FileMapping::open(&path, length))
            .await
            .map_err(|e| map_error(NativeError::new(Code::Internal, format!("mmap task failed: {e}"))))?
            .map_err(map_error)?;
        let (tx, rx) = oneshot::channel();
        self.mailbox.post(ServerCommand::Register { mapping, reply: tx }).map_err(map_error)?;
        let info = await_reply(rx, "UcxServer").await.map_err(map_error)?;
        Ok(UcxRegion {
            mailbox: self.mailbox.clone(),
            id: info.id,
            address: info.address,
            length: info.length,
            key: info.key,
        })
    }

    #[napi]
    pub fn stats(&self) -> UcxServerStats {
        UcxServerStats {
            endpoints: self.stats.endpoints.load(Ordering::Relaxed),
            regions: self.stats.regions.load(Ordering::Relaxed),
            registered_bytes: self.stats.registered_bytes.load(Ordering::Relaxed) as f64,
        }
    }

    /// Closes endpoints and the listener, unregisters every region, stops the
    /// progress thread. Idempotent.
    #[napi]
    pub async fn close(&self) -> Result<()> {
        let _ = self.mailbox.request_close().await;
        Ok(())
    }
}

impl Drop for UcxServer {
    fn drop(&mut self) {
        // A server the program let go of is closed; its regions go with it.
        self.mailbox.mark_closing();
    }
}
