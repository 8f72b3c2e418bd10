//! Read-only shared mappings of segment files, and the tombstones that replace them.
//!
//! A released region's address range is not handed back to the kernel while the
//! server runs: it is replaced in one mmap(MAP_FIXED) call by an anonymous,
//! read-only, never-populated mapping (a tombstone). Over TCP and shared memory UCX
//! serves gets by reading the address itself (no remote key check, unlike RDMA
//! hardware), so a late get for a released region must find readable memory, not
//! crash the server; and the address must not be reused by a later region, or a
//! late get would return another file's bytes. The client rejects such reads by
//! checking the region's validity slot after its data arrived (region_table.rs).
use std::ffi::CString;
use std::ptr;

use crate::errors::{Code, NativeError, NativeResult};
use crate::ucx::limits::REGION_BYTES_MAX;

pub struct FileMapping {
    pub ptr: *mut u8,
    pub length: usize,
}

// SAFETY: the mapping is plain memory owned by this value; it is only read through
// UCX, and unmapped once (by Drop or by into_tombstone).
unsafe impl Send for FileMapping {}

impl FileMapping {
    /// mmap bytes [0, length) of `path` read-only and shared.
    pub fn open(path: &str, length: u64) -> NativeResult<FileMapping> {
        if length == 0 || length > REGION_BYTES_MAX {
            return Err(NativeError::new(
                Code::InvalidArgument,
                format!("region length {length} of {path} must be in 1..={REGION_BYTES_MAX}"),
            ));
        }
        let c = CString::new(path)
            .map_err(|_| NativeError::new(Code::InvalidArgument, format!("path {path:?} contains NUL")))?;
        // SAFETY: c is a valid NUL-terminated path.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            let code = if e.kind() == std::io::ErrorKind::NotFound { Code::NotFound } else { Code::StorageIo };
            return Err(NativeError::new(code, format!("open {path}: {e}")));
        }
        let r = Self::map_fd(fd, path, length);
        // SAFETY: fd was opened above; the mapping (if any) keeps its own reference to the file.
        unsafe { libc::close(fd) };
        r
    }

    fn map_fd(fd: i32, path: &str, length: u64) -> NativeResult<FileMapping> {
        // SAFETY: an all-zero stat is a valid out buffer for fstat.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fd is open; st is a valid out pointer.
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(NativeError::new(Code::StorageIo, format!("fstat {path}: {e}")));
        }
        if (st.st_mode & libc::S_IFMT) != libc::S_IFREG {
            return Err(NativeError::new(Code::InvalidArgument, format!("{path} is not a regular file")));
        }
        if length > st.st_size as u64 {
            return Err(NativeError::new(
                Code::InvalidArgument,
                format!("region length {length} is beyond the size {} of {path}", st.st_size),
            ));
        }
        // SAFETY: fd is open for reading; a NULL hint lets the kernel choose the address.
        let p = unsafe {
            libc::mmap(ptr::null_mut(), length as usize, libc::PROT_READ, libc::MAP_SHARED, fd, 0)
        };
        if p == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            return Err(NativeError::new(Code::StorageIo, format!("mmap {length} bytes of {path}: {e}")));
        }
        Ok(FileMapping { ptr: p as *mut u8, length: length as usize })
    }

    /// Replaces the file mapping by a tombstone over the same addresses, atomically
    /// (no moment where the range is unmapped). Falls back to munmap if that fails.
    pub fn into_tombstone(self) -> Option<Tombstone> {
        let (p, len) = (self.ptr, self.length);
        std::mem::forget(self);
        // SAFETY: [p, p+len) is our own mapping; MAP_FIXED replaces it in place with
        // anonymous read-only memory that is never written (reads see the zero page).
        let q = unsafe {
            libc::mmap(
                p as *mut libc::c_void,
                len,
                libc::PROT_READ,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if q == libc::MAP_FAILED {
            // SAFETY: still our mapping; nothing refers to it any more.
            unsafe { libc::munmap(p as *mut libc::c_void, len) };
            return None;
        }
        Some(Tombstone { ptr: p, length: len })
    }
}

impl Drop for FileMapping {
    fn drop(&mut self) {
        // SAFETY: ptr/length describe a mapping made by map_fd and not yet unmapped.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.length) };
    }
}

/// A reserved, readable, zero-filled address range where a released region was.
pub struct Tombstone {
    ptr: *mut u8,
    length: usize,
}

// SAFETY: plain address space owned by this value.
unsafe impl Send for Tombstone {}

impl Drop for Tombstone {
    fn drop(&mut self) {
        // SAFETY: our own anonymous mapping; dropped only when the server's worker is gone.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.length) };
    }
}
