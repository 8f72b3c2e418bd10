//! One `UcxClient.get` on the client's progress thread: its result buffer, the
//! requests still to post (data chunks, then validity reads), and its reply.
//!
//! Lifetime rule: the buffer and the validity words are owned here and stay put
//! until every posted request has completed (UCX writes into them until then),
//! even when the caller was already answered (timeout, failure, close).
//! Phases: data chunks; once all completed without error, one 8-byte read of each
//! region's validity slot; once those match the keys' generations, the answer.
use std::time::Instant;

use tokio::sync::oneshot;

use crate::errors::{Code, NativeError, NativeResult};
use crate::sys;

pub type GetReply = oneshot::Sender<NativeResult<Vec<u8>>>;

/// One request to post: `length` bytes at `remote` into `dst`.
pub struct Item {
    pub dst: *mut u8,
    pub remote: u64,
    pub length: usize,
    pub rkey: sys::ucp_rkey_h,
}

pub struct Check {
    pub slot_address: u64,
    pub generation: u64,
    pub table_rkey: sys::ucp_rkey_h,
}

pub struct GetOp {
    pub buf: Vec<u8>,
    pub items: Vec<Item>,
    /// Index of the next item to post.
    pub next: usize,
    pub outstanding: usize,
    pub checks: Vec<Check>,
    checks_words: Vec<u64>,
    checks_queued: bool,
    pub deadline: Instant,
    reply: Option<GetReply>,
    failed: bool,
    /// Packed keys pinned in the rkey cache by this get.
    pub pinned: Vec<Vec<u8>>,
}

impl GetOp {
    pub fn new(
        buf: Vec<u8>,
        items: Vec<Item>,
        checks: Vec<Check>,
        deadline: Instant,
        reply: GetReply,
        pinned: Vec<Vec<u8>>,
    ) -> GetOp {
        let checks_words = vec![0u64; checks.len()];
        GetOp {
            buf,
            items,
            next: 0,
            outstanding: 0,
            checks,
            checks_words,
            checks_queued: false,
            deadline,
            reply: Some(reply),
            failed: false,
            pinned,
        }
    }

    /// True while there are items to post.
    pub fn wants_post(&self) -> bool {
        !self.failed && self.next < self.items.len()
    }

    /// Answers the caller with an error (once); no more items are posted.
    pub fn fail(&mut self, e: NativeError) {
        self.failed = true;
        if let Some(r) = self.reply.take() {
            let _ = r.send(Err(e));
        }
    }

    pub fn answered(&self) -> bool {
        self.reply.is_none()
    }

    /// Done with UCX: answered and nothing outstanding. Then it can be dropped.
    pub fn retired(&self) -> bool {
        self.answered() && self.outstanding == 0
    }

    /// Called after completions: moves to the check phase, or answers.
    pub fn advance(&mut self) {
        if self.failed || self.answered() || self.next < self.items.len() || self.outstanding > 0 {
            return;
        }
        if !self.checks_queued {
            self.checks_queued = true;
            let words = self.checks_words.as_mut_ptr();
            for (j, c) in self.checks.iter().enumerate() {
                // SAFETY: j < checks_words.len(); the vector is never resized, so the
                // pointer stays valid for as long as this op lives.
                let dst = unsafe { words.add(j) } as *mut u8;
                self.items.push(Item { dst, remote: c.slot_address, length: 8, rkey: c.table_rkey });
            }
            if !self.checks.is_empty() {
                return;
            }
        }
        for (j, c) in self.checks.iter().enumerate() {
            let seen = u64::from_le(self.checks_words[j]);
            if seen != c.generation {
                let e = NativeError::new(
                    Code::NotFound,
                    format!(
                        "region was released while it was read (validity slot {:#x} holds {seen}, key has {})",
                        c.slot_address, c.generation
                    ),
                );
                self.fail(e);
                return;
            }
        }
        let buf = std::mem::take(&mut self.buf);
        if let Some(r) = self.reply.take() {
            let _ = r.send(Ok(buf));
        }
    }
}

// SAFETY: the raw pointers point into this op's own heap buffers or at UCX keys used
// only on the progress thread; the op is created off-thread and then moved there once.
unsafe impl Send for GetOp {}
