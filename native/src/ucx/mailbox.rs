//! The one way JavaScript-side threads talk to a progress thread: a bounded command
//! queue plus a wake-up, and the close handshake (close requested / close finished).
//! Posting never blocks: a full queue is LIMIT_EXCEEDED, a closed one SHUTTING_DOWN.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::errors::{Code, NativeError, NativeResult};
use crate::ucx::limits::COMMAND_QUEUE_MAX;
use crate::ucx::worker::Waker;

pub struct Mailbox<C> {
    tx: SyncSender<C>,
    pub waker: Waker,
    /// Set once close() was called (or the owner was dropped, or the thread failed):
    /// no new commands are accepted.
    closing: AtomicBool,
    close: Mutex<CloseState>,
    what: &'static str,
}

struct CloseState {
    finished: bool,
    waiters: Vec<oneshot::Sender<()>>,
}

impl<C> Mailbox<C> {
    pub fn new(what: &'static str) -> (Mailbox<C>, Receiver<C>) {
        let (tx, rx) = sync_channel(COMMAND_QUEUE_MAX);
        let close = Mutex::new(CloseState { finished: false, waiters: Vec::new() });
        (Mailbox { tx, waker: Waker::new(), closing: AtomicBool::new(false), close, what }, rx)
    }

    pub fn post(&self, cmd: C) -> NativeResult<()> {
        if self.is_closing() {
            return Err(self.shutting_down());
        }
        match self.tx.try_send(cmd) {
            Ok(()) => {
                self.waker.wake();
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(NativeError::new(
                Code::LimitExceeded,
                format!("{} command queue is full ({COMMAND_QUEUE_MAX} commands)", self.what),
            )),
            Err(TrySendError::Disconnected(_)) => Err(self.shutting_down()),
        }
    }

    pub fn shutting_down(&self) -> NativeError {
        NativeError::new(Code::ShuttingDown, format!("{} is closed", self.what))
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Asks the progress thread to close; the receiver resolves when it has finished.
    pub fn request_close(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.close.lock().unwrap();
        if st.finished {
            let _ = tx.send(());
        } else {
            st.waiters.push(tx);
        }
        drop(st);
        self.closing.store(true, Ordering::Release);
        self.waker.wake();
        rx
    }

    /// Marks closing without waiting (used by Drop and by the thread itself on failure).
    pub fn mark_closing(&self) {
        self.closing.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Called by the progress thread when teardown is complete.
    pub fn finish_close(&self) {
        self.closing.store(true, Ordering::Release);
        let mut st = self.close.lock().unwrap();
        st.finished = true;
        for w in st.waiters.drain(..) {
            let _ = w.send(());
        }
    }

    pub fn is_finished(&self) -> bool {
        self.close.lock().unwrap().finished
    }
}

/// Awaits a reply from the progress thread; a dropped sender means it shut down.
pub async fn await_reply<T>(rx: oneshot::Receiver<NativeResult<T>>, what: &str) -> NativeResult<T> {
    match rx.await {
        Ok(r) => r,
        Err(_) => Err(NativeError::new(Code::ShuttingDown, format!("{what} closed before answering"))),
    }
}
