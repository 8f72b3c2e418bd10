//! One UCP worker (UCS_THREAD_MODE_SINGLE) and its wakeup: the event fd the progress
//! thread sleeps on, and the `Waker` other threads use to interrupt that sleep.
//! Every UCX call on a worker is made by its progress thread; the only call made
//! from other threads is ucp_worker_signal, which UCX documents as safe from any
//! thread in any thread mode. The Waker's mutex keeps it from racing with destroy.
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::errors::NativeResult;
use crate::sys;
use crate::ucx::context::Context;
use crate::ucx::status;

pub struct Worker {
    pub(crate) raw: sys::ucp_worker_h,
    efd: i32,
    // Dropped after the worker (field order does not matter: Drop below destroys first).
    pub(crate) context: Context,
}

impl Worker {
    pub fn new(context: Context) -> NativeResult<Worker> {
        let params = sys::ucp_worker_params_t {
            field_mask: sys::ucp_worker_params_field_UCP_WORKER_PARAM_FIELD_THREAD_MODE as u64,
            thread_mode: sys::ucs_thread_mode_t_UCS_THREAD_MODE_SINGLE,
            ..Default::default()
        };
        let mut raw: sys::ucp_worker_h = ptr::null_mut();
        // SAFETY: context.raw is a live context; params is initialised; raw is an out pointer.
        status::check("ucp_worker_create", unsafe { sys::ucp_worker_create(context.raw, &params, &mut raw) })?;
        let mut efd: i32 = -1;
        // SAFETY: raw is the worker just created; efd is an out pointer.
        let st = unsafe { sys::ucp_worker_get_efd(raw, &mut efd) };
        if st != status::OK {
            // SAFETY: raw was created above and nothing else refers to it yet.
            unsafe { sys::ucp_worker_destroy(raw) };
            return Err(status::error("ucp_worker_get_efd", st));
        }
        Ok(Worker { raw, efd, context })
    }

    /// One ucp_worker_progress call; the number of events it handled.
    pub fn progress(&self) -> u32 {
        // SAFETY: raw is live and only the progress thread calls this.
        unsafe { sys::ucp_worker_progress(self.raw) }
    }

    /// Progress until idle, at most `rounds` times (so a flood of events cannot starve commands).
    pub fn progress_until_idle(&self, rounds: usize) -> bool {
        let mut any = false;
        for _ in 0..rounds {
            if self.progress() == 0 {
                break;
            }
            any = true;
        }
        any
    }

    /// Arms the event fd and sleeps on it up to `timeout_ms`, unless `kicked` is
    /// already set or UCX has events pending (ucp_worker_arm says BUSY).
    pub fn wait(&self, timeout_ms: i32, kicked: &AtomicBool) {
        // SAFETY: raw is live; only the progress thread arms it.
        let st = unsafe { sys::ucp_worker_arm(self.raw) };
        if st == status::ERR_BUSY || kicked.load(Ordering::Acquire) {
            return;
        }
        let mut pfd = libc::pollfd { fd: self.efd, events: libc::POLLIN, revents: 0 };
        // SAFETY: pfd is one valid pollfd on the stack; efd is owned by the live worker.
        unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // SAFETY: every endpoint and listener of this worker was closed by its owner
        // before the worker is dropped; raw is not used after this.
        unsafe { sys::ucp_worker_destroy(self.raw) }
    }
}

/// Lets JavaScript-side threads interrupt the progress thread's sleep.
pub struct Waker {
    worker: Mutex<Option<WorkerPtr>>,
    /// Set by posters before signalling; cleared by the progress thread before it drains commands.
    pub kicked: AtomicBool,
}

struct WorkerPtr(sys::ucp_worker_h);
// SAFETY: the pointer is only passed to ucp_worker_signal, which is thread safe,
// and only while the mutex guarantees the worker is alive.
unsafe impl Send for WorkerPtr {}

impl Waker {
    pub fn new() -> Waker {
        Waker { worker: Mutex::new(None), kicked: AtomicBool::new(false) }
    }

    pub fn attach(&self, worker: &Worker) {
        *self.worker.lock().unwrap() = Some(WorkerPtr(worker.raw));
    }

    /// Called by the progress thread right before it destroys the worker.
    pub fn detach(&self) {
        *self.worker.lock().unwrap() = None;
    }

    pub fn wake(&self) {
        self.kicked.store(true, Ordering::Release);
        if let Some(w) = self.worker.lock().unwrap().as_ref() {
            // SAFETY: the worker is alive while it is attached (detach runs before destroy,
            // under the same mutex); ucp_worker_signal may be called from any thread.
            unsafe { sys::ucp_worker_signal(w.0) };
        }
    }
}
