//! The progress thread loop shared by server and client. Each UcxServer / UcxClient
//! owns one worker and one such thread; every UCX call on that worker happens here.
//! The loop: progress until idle, let the driver handle what callbacks recorded,
//! drain commands, then arm the worker's event fd and sleep until an event, a
//! command (ucp_worker_signal), the next deadline, or the idle wait passes.
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

use crate::ucx::limits::PROGRESS_IDLE_WAIT_MS;
use crate::ucx::mailbox::Mailbox;
use crate::ucx::worker::Worker;

pub trait Driver {
    type Command;
    /// Handle events recorded by UCX callbacks during the last progress calls, and deadlines.
    fn after_progress(&mut self, worker: &Worker, now: Instant);
    fn command(&mut self, worker: &Worker, cmd: Self::Command);
    /// Close was requested: start closing (may take several loop turns).
    fn begin_close(&mut self, worker: &Worker);
    /// True once closing finished and the worker may be destroyed.
    fn closed(&self) -> bool;
    fn next_deadline(&self) -> Option<Instant>;
    /// Release everything still held (last call before the worker is destroyed).
    fn teardown(&mut self, worker: &Worker);
    /// Answer a command that arrived too late to run.
    fn refuse(&mut self, cmd: Self::Command);
}

/// Progress rounds per loop turn before commands get a look in.
const PROGRESS_ROUNDS: usize = 64;

pub fn run<D: Driver>(worker: Worker, mut driver: D, mailbox: Arc<Mailbox<D::Command>>, rx: Receiver<D::Command>) {
    let mut closing = false;
    loop {
        worker.progress_until_idle(PROGRESS_ROUNDS);
        driver.after_progress(&worker, Instant::now());
        mailbox.waker.kicked.store(false, Ordering::Release);
        loop {
            match rx.try_recv() {
                Ok(cmd) if closing => driver.refuse(cmd),
                Ok(cmd) => driver.command(&worker, cmd),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        if !closing && mailbox.is_closing() {
            closing = true;
            driver.begin_close(&worker);
        }
        driver.after_progress(&worker, Instant::now());
        if closing && driver.closed() {
            break;
        }
        let mut wait_ms = PROGRESS_IDLE_WAIT_MS;
        if let Some(d) = driver.next_deadline() {
            let left = d.saturating_duration_since(Instant::now()).as_millis() as i32;
            wait_ms = wait_ms.min(left.max(0));
        }
        if wait_ms > 0 {
            worker.wait(wait_ms, &mailbox.waker.kicked);
        }
    }
    driver.teardown(&worker);
    while let Ok(cmd) = rx.try_recv() {
        driver.refuse(cmd);
    }
    mailbox.waker.detach();
    drop(driver);
    drop(worker);
    mailbox.finish_close();
}
