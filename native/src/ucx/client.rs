//! `UcxClient`: one endpoint to one server, one worker, one progress thread. Gets
//! are validated off the progress thread (get_plan.rs), then posted there with a
//! bound on requests and bytes in flight, and answered once all their data and
//! validity reads completed (get_op.rs). An endpoint failure (peer killed, reset,
//! unreachable) fails every outstanding get with CONNECTION_CLOSED and every later
//! one too; the client never tries to reconnect (callers make a new client).
use std::collections::{BTreeMap, HashSet};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{BigInt, Buffer};
use napi::Result;
use napi_derive::napi;
use tokio::sync::oneshot;

use crate::errors::{map_error, Code, NativeError, NativeResult};
use crate::sys;
use crate::ucx::context::Context;
use crate::ucx::endpoint::{self, Posted};
use crate::ucx::get_op::{Check, GetOp, GetReply, Item};
use crate::ucx::get_plan::{self, GetPlan, ReadRequest};
use crate::ucx::inbox;
use crate::ucx::limits::{
    CLIENT_BYTES_IN_FLIGHT_MAX, CLIENT_GETS_MAX, CLIENT_REQUESTS_IN_FLIGHT_MAX, CLOSE_DRAIN_MS, GET_CHUNK_BYTES_MAX,
    TIMEOUT_MS_MAX, TOKEN_INDEX_BITS,
};
use crate::ucx::mailbox::{await_reply, Mailbox};
use crate::ucx::progress::{self, Driver};
use crate::ucx::rkey_cache::RkeyCache;
use crate::ucx::sockaddr::SockAddr;
use crate::ucx::status;
use crate::ucx::worker::Worker;
use crate::ucx::worker_address;

pub enum ClientCommand {
    Get { plan: GetPlan, buf: Vec<u8>, deadline: Instant, reply: GetReply },
}

const FLUSH_TOKEN: u64 = u64::MAX - 1;
const CLOSE_TOKEN: u64 = u64::MAX;
const INDEX_MASK: u64 = (1 << TOKEN_INDEX_BITS) - 1;

enum Stage {
    Connecting { reply: oneshot::Sender<NativeResult<()>>, deadline: Instant },
    Open,
    /// The endpoint failed: waiting for its requests to complete with errors.
    Failed,
    /// Close requested: waiting (bounded) for outstanding requests, then closing the endpoint.
    Draining { deadline: Instant },
    EpClosing { deadline: Instant },
    Done,
}

struct ClientDriver {
    ep: sys::ucp_ep_h,
    stage: Stage,
    ops: BTreeMap<u64, GetOp>,
    next_op_id: u64,
    in_flight: usize,
    bytes_in_flight: usize,
    rkeys: RkeyCache,
    /// Set when the endpoint failed or close began (UcxClient.closed).
    closed: Arc<AtomicBool>,
    failure: Option<NativeError>,
    /// UcxClient.transports, written once the endpoint is connected.
    lanes: Arc<Mutex<String>>,
}

fn token(op: u64, index: usize) -> u64 {
    (op << TOKEN_INDEX_BITS) | index as u64
}

impl ClientDriver {
    fn outstanding(&self) -> usize {
        self.ops.values().map(|o| o.outstanding).sum()
    }

    fn start_get(&mut self, plan: GetPlan, mut buf: Vec<u8>, deadline: Instant, reply: GetReply) {
        if let Some(f) = &self.failure {
            let _ = reply.send(Err(f.clone()));
            return;
        }
        if !matches!(self.stage, Stage::Open) {
            let _ = reply.send(Err(NativeError::new(Code::ShuttingDown, "UcxClient is closed")));
            return;
        }
        if self.ops.len() >= CLIENT_GETS_MAX {
            let m = format!("{CLIENT_GETS_MAX} gets are outstanding on this client");
            let _ = reply.send(Err(NativeError::new(Code::LimitExceeded, m)));
            return;
        }
        let mut pinned: Vec<Vec<u8>> = Vec::new();
        let mut items = Vec::new();
        let mut checks = Vec::new();
        let mut seen_slots = HashSet::new();
        let base = buf.as_mut_ptr();
        for r in &plan.reads {
            let keys = [&r.key.region_rkey, &r.key.table_rkey];
            let mut unpacked = [ptr::null_mut(); 2];
            for (i, k) in keys.iter().enumerate() {
                match self.rkeys.acquire(self.ep, k) {
                    Ok(h) => {
                        unpacked[i] = h;
                        pinned.push((*k).clone());
                    }
                    Err(e) => {
                        for p in &pinned {
                            self.rkeys.release(p);
                        }
                        let _ = reply.send(Err(e));
                        return;
                    }
                }
            }
            let mut done = 0;
            while done < r.length {
                let n = (r.length - done).min(GET_CHUNK_BYTES_MAX);
                // SAFETY: buf_offset + done + n <= total_bytes == buf.len() (get_plan).
                let dst = unsafe { base.add(r.buf_offset + done) };
                items.push(Item { dst, remote: r.remote_address + done as u64, length: n, rkey: unpacked[0] });
                done += n;
            }
            if seen_slots.insert((r.key.slot_address, r.key.generation)) {
                checks.push(Check { slot_address: r.key.slot_address, generation: r.key.generation, table_rkey: unpacked[1] });
            }
        }
        let id = self.next_op_id;
        self.next_op_id += 1;
        self.ops.insert(id, GetOp::new(buf, items, checks, deadline, reply, pinned));
    }

    /// Posts items of outstanding gets, oldest first, within the in-flight bounds.
    fn pump(&mut self) {
        if !matches!(self.stage, Stage::Open) {
            return;
        }
        let ids: Vec<u64> = self.ops.keys().copied().collect();
        let mut immediate: Vec<(u64, sys::ucs_status_t)> = Vec::new();
        'ops: for id in ids {
            let op = self.ops.get_mut(&id).unwrap();
            while op.wants_post() {
                let it = &op.items[op.next];
                let fits = self.in_flight < CLIENT_REQUESTS_IN_FLIGHT_MAX
                    && (self.bytes_in_flight + it.length <= CLIENT_BYTES_IN_FLIGHT_MAX || self.in_flight == 0);
                if !fits {
                    break 'ops;
                }
                let tk = token(id, op.next);
                // SAFETY: it.dst points into op.buf / op's validity words, which live until
                // this op retires (only after all its requests completed); it.rkey is pinned
                // in the cache by this op and was unpacked on self.ep.
                let r = unsafe { endpoint::get(self.ep, it.dst, it.length, it.remote, it.rkey, tk) };
                op.next += 1;
                op.outstanding += 1;
                self.in_flight += 1;
                self.bytes_in_flight += it.length;
                match r {
                    Posted::Pending => {}
                    Posted::Done => immediate.push((tk, status::OK)),
                    Posted::Failed(s) => immediate.push((tk, s)),
                }
            }
        }
        for (tk, st) in immediate {
            inbox::push_completion(tk, st);
        }
    }

    fn complete(&mut self, tk: u64, st: sys::ucs_status_t) {
        let (id, index) = (tk >> TOKEN_INDEX_BITS, (tk & INDEX_MASK) as usize);
        let Some(op) = self.ops.get_mut(&id) else { return };
        op.outstanding -= 1;
        self.in_flight -= 1;
        self.bytes_in_flight -= op.items[index].length;
        if st != status::OK {
            let e = if st == status::ERR_CANCELED && self.failure.is_none() {
                NativeError::new(Code::ShuttingDown, "get canceled: UcxClient is closing")
            } else if let Some(f) = &self.failure {
                f.clone()
            } else {
                status::error("ucp_get_nbx", st)
            };
            op.fail(e);
        }
    }

    fn fail_endpoint(&mut self, st: sys::ucs_status_t) {
        if self.failure.is_some() {
            return;
        }
        let e = NativeError::new(
            Code::ConnectionClosed,
            format!("endpoint to the server failed: {} ({st})", status::text(st)),
        );
        self.failure = Some(e.clone());
        self.closed.store(true, Ordering::Release);
        for op in self.ops.values_mut() {
            op.fail(e.clone());
        }
        match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::Connecting { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Stage::Draining { deadline } => self.stage = Stage::Draining { deadline },
            Stage::EpClosing { deadline } => self.stage = Stage::EpClosing { deadline },
            Stage::Done => self.stage = Stage::Done,
            _ => {}
        }
    }

    fn retire_ops(&mut self) {
        let done: Vec<u64> = self.ops.iter().filter(|(_, o)| o.retired()).map(|(k, _)| *k).collect();
        for id in done {
            let op = self.ops.remove(&id).unwrap();
            for k in &op.pinned {
                self.rkeys.release(k);
            }
        }
    }

    fn close_ep(&mut self, now: Instant) {
        if self.outstanding() == 0 {
            self.rkeys.destroy_all();
        }
        if self.ep.is_null() {
            self.stage = Stage::Done;
            return;
        }
        let ep = std::mem::replace(&mut self.ep, ptr::null_mut());
        if self.failure.is_none() {
            endpoint::maybe_print_info(ep);
        }
        self.stage = match endpoint::close_force(ep, CLOSE_TOKEN) {
            Posted::Pending => Stage::EpClosing { deadline: now + Duration::from_millis(CLOSE_DRAIN_MS) },
            _ => Stage::Done,
        };
    }
}

impl Driver for ClientDriver {
    type Command = ClientCommand;

    fn after_progress(&mut self, _worker: &Worker, now: Instant) {
        loop {
            let events = inbox::take();
            let quiet = events.failed.is_empty() && events.completions.is_empty();
            for (_ep, st) in events.failed {
                self.fail_endpoint(st);
            }
            for (tk, st) in events.completions {
                match tk {
                    FLUSH_TOKEN => {
                        if let Stage::Connecting { .. } = self.stage {
                            if st == status::OK {
                                if let Stage::Connecting { reply, .. } = std::mem::replace(&mut self.stage, Stage::Open) {
                                    endpoint::maybe_print_info(self.ep);
                                    *self.lanes.lock().unwrap() = endpoint::lanes_of(&endpoint::info_text(self.ep));
                                    let _ = reply.send(Ok(()));
                                }
                            } else {
                                self.fail_endpoint(st);
                            }
                        }
                    }
                    CLOSE_TOKEN => self.stage = Stage::Done,
                    _ => self.complete(tk, st),
                }
            }
            for op in self.ops.values_mut() {
                if !op.answered() && now >= op.deadline {
                    op.fail(NativeError::new(Code::Timeout, "get did not complete within its timeout"));
                }
                op.advance();
            }
            self.pump();
            self.retire_ops();
            if quiet && inbox::is_empty() {
                break;
            }
        }
        match self.stage {
            Stage::Connecting { deadline, .. } if now >= deadline => {
                if let Stage::Connecting { reply, .. } = std::mem::replace(&mut self.stage, Stage::Failed) {
                    let e = NativeError::new(Code::Timeout, "connect did not complete within its timeout");
                    self.failure = Some(NativeError::new(Code::ConnectionClosed, "connect timed out"));
                    self.closed.store(true, Ordering::Release);
                    let _ = reply.send(Err(e));
                }
            }
            Stage::Draining { deadline } if self.outstanding() == 0 || now >= deadline => self.close_ep(now),
            Stage::EpClosing { deadline } if now >= deadline => self.stage = Stage::Done,
            _ => {}
        }
        if matches!(self.stage, Stage::Done) && self.outstanding() == 0 {
            self.rkeys.destroy_all();
        }
    }

    fn command(&mut self, _worker: &Worker, cmd: ClientCommand) {
        match cmd {
            ClientCommand::Get { plan, buf, deadline, reply } => {
                self.start_get(plan, buf, deadline, reply);
                self.pump();
            }
        }
    }

    fn begin_close(&mut self, _worker: &Worker) {
        self.closed.store(true, Ordering::Release);
        for op in self.ops.values_mut() {
            op.fail(NativeError::new(Code::ShuttingDown, "UcxClient was closed"));
        }
        if let Stage::Connecting { reply, .. } = std::mem::replace(&mut self.stage, Stage::Failed) {
            let _ = reply.send(Err(NativeError::new(Code::ShuttingDown, "UcxClient was closed while connecting")));
        }
        self.stage = Stage::Draining { deadline: Instant::now() + Duration::from_millis(CLOSE_DRAIN_MS) };
    }

    fn closed(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    fn next_deadline(&self) -> Option<Instant> {
        let stage = match self.stage {
            Stage::Connecting { deadline, .. } | Stage::Draining { deadline } | Stage::EpClosing { deadline } => Some(deadline),
            _ => None,
        };
        self.ops.values().filter(|o| !o.answered()).map(|o| o.deadline).chain(stage).min()
    }

    fn teardown(&mut self, _worker: &Worker) {
        if self.outstanding() == 0 {
            self.rkeys.destroy_all();
        }
        // Ops whose requests never completed (UCX did not finish them within the close
        // bounds) keep their buffers: UCX may still write there until the worker is gone.
        for (_, op) in std::mem::take(&mut self.ops) {
            if op.outstanding > 0 {
                std::mem::forget(op);
            }
        }
        let _ = inbox::take();
    }

    fn refuse(&mut self, cmd: ClientCommand) {
        match cmd {
            ClientCommand::Get { reply, .. } => {
                let _ = reply.send(Err(NativeError::new(Code::ShuttingDown, "UcxClient is closed")));
            }
        }
    }
}

fn check_timeout(ms: u32, what: &str) -> NativeResult<Duration> {
    if ms == 0 || ms > TIMEOUT_MS_MAX {
        return Err(NativeError::new(Code::InvalidArgument, format!("{what} timeout {ms} ms is not in 1..={TIMEOUT_MS_MAX}")));
    }
    Ok(Duration::from_millis(ms as u64))
}

/// One read of a get: `length` bytes at `remoteAddress` of the region whose key is `rkey`.
#[napi(object)]
pub struct UcxRead {
    pub remote_address: BigInt,
    pub rkey: Buffer,
    pub length: f64,
}

#[napi]
pub struct UcxClient {
    mailbox: Arc<Mailbox<ClientCommand>>,
    closed: Arc<AtomicBool>,
    /// Filled by the progress thread once connected (UcxClient.transports).
    lanes: Arc<Mutex<String>>,
}

/// What a client connects to.
enum Target {
    /// A UcxServer's listener (sockaddr, client-server mode).
    Listener(SockAddr),
    /// A UcxServer's worker address (the ucp bytes, envelope already checked).
    Worker(Vec<u8>),
}

#[napi]
impl UcxClient {
    /// Connects to a UcxServer's listener; resolves once the endpoint is usable
    /// (wire-up finished, checked with an endpoint flush). Listener endpoints get
    /// network lanes only (tcp here, verbs on RDMA hardware), even on one host.
    #[napi]
    pub async fn connect(host: String, port: u32, timeout_ms: u32) -> Result<UcxClient> {
        let timeout = check_timeout(timeout_ms, "connect").map_err(map_error)?;
        let addr = SockAddr::resolve(&host, port).map_err(map_error)?;
        UcxClient::open(Target::Listener(addr), timeout).await.map_err(map_error)
    }

    /// Connects to the worker whose address is `workerAddress` (from
    /// `UcxServer.workerAddress()`, sent over the control plane). UCX picks the
    /// lanes from both workers' transports, without the listener's network-only
    /// restriction; UCX 1.13 still picks tcp on one host, because PEER error
    /// handling excludes its shared-memory transports (UCX.md "Transports used
    /// here"). Garbage bytes are INVALID_ARGUMENT before UCX sees them.
    #[napi]
    pub async fn connect_address(worker_address: Buffer, timeout_ms: u32) -> Result<UcxClient> {
        let timeout = check_timeout(timeout_ms, "connect").map_err(map_error)?;
        let raw = worker_address::decode(&worker_address).map_err(map_error)?.to_vec();
        UcxClient::open(Target::Worker(raw), timeout).await.map_err(map_error)
    }

    async fn open(target: Target, timeout: Duration) -> NativeResult<UcxClient> {
        let deadline = Instant::now() + timeout;
        let (mailbox, rx) = Mailbox::new("UcxClient");
        let mailbox = Arc::new(mailbox);
        let closed = Arc::new(AtomicBool::new(false));
        let lanes = Arc::new(Mutex::new(String::new()));
        let (tx, connected) = oneshot::channel();
        let (mb, cl, ln) = (mailbox.clone(), closed.clone(), lanes.clone());
        let spawned = std::thread::Builder::new().name("pegasus-ucx-client".into()).spawn(move || {
            let setup = || -> NativeResult<(Worker, sys::ucp_ep_h)> {
                let worker = Worker::new(Context::new(false)?)?;
                let ep = match &target {
                    Target::Listener(addr) => endpoint::connect(&worker, addr)?,
                    Target::Worker(raw) => endpoint::connect_address(&worker, raw)?,
                };
                Ok((worker, ep))
            };
            match setup() {
                Err(e) => {
                    mb.finish_close();
                    let _ = tx.send(Err(e));
                }
                Ok((worker, ep)) => {
                    mb.waker.attach(&worker);
                    let mut driver = ClientDriver {
                        ep,
                        stage: Stage::Connecting { reply: tx, deadline },
                        ops: BTreeMap::new(),
                        next_op_id: 1,
                        in_flight: 0,
                        bytes_in_flight: 0,
                        rkeys: RkeyCache::default(),
                        closed: cl,
                        failure: None,
                        lanes: ln,
                    };
                    match endpoint::flush(ep, FLUSH_TOKEN) {
                        Posted::Pending => {}
                        Posted::Done => inbox::push_completion(FLUSH_TOKEN, status::OK),
                        Posted::Failed(s) => driver.fail_endpoint(s),
                    }
                    progress::run(worker, driver, mb, rx);
                }
            }
        });
        if let Err(e) = spawned {
            return Err(NativeError::new(Code::Internal, format!("cannot spawn UCX client thread: {e}")));
        }
        match await_reply(connected, "UcxClient").await {
            Ok(()) => Ok(UcxClient { mailbox, closed, lanes }),
            Err(e) => {
                mailbox.mark_closing();
                Err(e)
            }
        }
    }

    /// The endpoint's lanes as UCX chose them at connect (the "lane[i]" lines of
    /// ucp_ep_print_info, one a line), e.g. "lane[0]:  2:tcp/lo.0 md[1] -> ... am am_bw#0".
    #[napi]
    pub fn transports(&self) -> String {
        self.lanes.lock().unwrap().clone()
    }

    /// One-sided gets of every read, into one new Buffer holding them back to back.
    #[napi]
    pub async fn get(&self, reads: Vec<UcxRead>, timeout_ms: u32) -> Result<Buffer> {
        if self.mailbox.is_closing() {
            return Err(map_error(self.mailbox.shutting_down()));
        }
        let timeout = check_timeout(timeout_ms, "get").map_err(map_error)?;
        let deadline = Instant::now() + timeout;
        let mut parsed = Vec::with_capacity(reads.len());
        for (i, r) in reads.iter().enumerate() {
            let (negative, address, lossless) = r.remote_address.get_u64();
            if negative || !lossless {
                return Err(map_error(NativeError::new(Code::InvalidArgument, format!("read {i}: remoteAddress is not a u64"))));
            }
            let ok = r.length.is_finite() && r.length >= 0.0 && r.length.fract() == 0.0;
            if !ok {
                return Err(map_error(NativeError::new(Code::InvalidArgument, format!("read {i}: length {} is not an integer", r.length))));
            }
            parsed.push(ReadRequest { remote_address: address, key: &r.rkey, length: r.length as u64 });
        }
        let plan = get_plan::plan(&parsed).map_err(map_error)?;
        // Zeroed allocation of this size is mmap-backed and lazily populated: cheap.
        let buf = vec![0u8; plan.total_bytes];
        let (tx, rx) = oneshot::channel();
        self.mailbox.post(ClientCommand::Get { plan, buf, deadline, reply: tx }).map_err(map_error)?;
        let bytes = await_reply(rx, "UcxClient").await.map_err(map_error)?;
        Ok(Buffer::from(bytes))
    }

    /// True once the client was closed or its endpoint failed.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.mailbox.is_closing()
    }

    /// Fails outstanding gets with SHUTTING_DOWN, closes the endpoint, destroys the
    /// cached remote keys and stops the progress thread. Idempotent.
    #[napi]
    pub async fn close(&self) -> Result<()> {
        let _ = self.mailbox.request_close().await;
        Ok(())
    }
}

impl Drop for UcxClient {
    fn drop(&mut self) {
        self.mailbox.mark_closing();
    }
}
