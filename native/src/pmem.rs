//! PMem segment files through libpmem2.
//!
//! A segment of a `pmem` tier is created at its full size (posix_fallocate, so
//! no page fault ever needs a block the file system does not have: a store into
//! a mapped hole on a full file system is SIGBUS, not ENOSPC), its size made
//! durable with fdatasync, then mapped with `pmem2_map_new`. Runs are copied in
//! with the map's memcpy function without flushing, and the written range is made
//! durable with the map's persist function followed by its drain function before
//! `write()` resolves: the same contract as `writev` + `fdatasync` on the file
//! path. On a DAX file system (ext4/xfs `-o dax` on an fsdax namespace or CXL
//! memory exposed as pmem) the map reports BYTE or CACHE_LINE store granularity
//! and persisting is a CPU cache flush (MAP_SYNC keeps the file system metadata
//! in step at fault time). On an ordinary file it reports PAGE and persisting is
//! `msync(MS_SYNC)` of the range, which also writes the extent metadata.
//!
//! Thread contract: the JS side serializes writes of one segment (one flush at a
//! time); every call runs as an AsyncTask on the libuv pool, never on the event
//! loop. `close()` waits for a write in flight (the mapping is behind a mutex).
use std::ffi::{CStr, CString};
use std::os::raw::{c_int, c_void};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;

use crate::errors::{map_error, Code, NativeError, NativeResult};
use crate::sys;

/// Largest segment this module maps (segmentBytesMax is at most 4 GiB; a run larger
/// than that sits alone in its segment and is bounded by the frame limits).
const MAP_BYTES_MAX: i64 = 64 * 1024 * 1024 * 1024;

/// The text of libpmem2's last error on this thread.
fn pmem2_message() -> String {
    // SAFETY: pmem2_errormsg returns a thread-local NUL-terminated string (never null).
    unsafe {
        let p = sys::pmem2_errormsg();
        if p.is_null() {
            return "unknown libpmem2 error".into();
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

fn errno_error(what: String) -> NativeError {
    let err = std::io::Error::last_os_error();
    errno_to_error(err.raw_os_error().unwrap_or(0), what)
}

fn errno_to_error(errno: c_int, what: String) -> NativeError {
    let text = std::io::Error::from_raw_os_error(errno);
    let code = if errno == libc::ENOSPC || errno == libc::EDQUOT { Code::DiskFull } else { Code::StorageIo };
    NativeError::new(code, format!("{what}: {text}"))
}

fn granularity_name(g: sys::pmem2_granularity) -> &'static str {
    match g {
        sys::pmem2_granularity_PMEM2_GRANULARITY_BYTE => "BYTE",
        sys::pmem2_granularity_PMEM2_GRANULARITY_CACHE_LINE => "CACHE_LINE",
        _ => "PAGE",
    }
}

/// One mapped segment file. Owns the fd and the libpmem2 map.
pub struct Mapping {
    fd: c_int,
    map: *mut sys::pmem2_map,
    addr: *mut u8,
    size: usize,
    memcpy: unsafe extern "C" fn(*mut c_void, *const c_void, usize, u32) -> *mut c_void,
    persist: unsafe extern "C" fn(*const c_void, usize),
    drain: unsafe extern "C" fn(),
}

// SAFETY: the mapping is only used behind a Mutex; the raw pointers refer to a
// process-wide mmap and a libpmem2 map object that are valid on any thread.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Creates `path` (which must not exist) at `bytes` bytes and maps it.
    fn create(path: &str, bytes: i64) -> NativeResult<Mapping> {
        if bytes <= 0 || bytes > MAP_BYTES_MAX {
            return Err(NativeError::new(Code::InvalidArgument, format!("pmem segment {path}: size {bytes} not in 1..{MAP_BYTES_MAX}")));
        }
        let cpath = CString::new(path).map_err(|_| NativeError::new(Code::InvalidArgument, "pmem segment path holds a NUL byte"))?;
        // SAFETY: cpath is a valid NUL-terminated string; the flags create a new file.
        let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC, 0o644 as libc::c_uint) };
        if fd < 0 {
            return Err(errno_error(format!("create pmem segment {path}")));
        }
        match Self::map_fd(fd, path, bytes) {
            Ok(m) => Ok(m),
            Err(e) => {
                // SAFETY: fd is ours and open; cpath names the file we just created.
                unsafe {
                    libc::close(fd);
                    libc::unlink(cpath.as_ptr());
                }
                Err(e)
            }
        }
    }

    fn map_fd(fd: c_int, path: &str, bytes: i64) -> NativeResult<Mapping> {
        // SAFETY: fd is an open, writable file descriptor.
        let rc = unsafe { libc::posix_fallocate(fd, 0, bytes as libc::off_t) };
        if rc != 0 {
            // posix_fallocate returns the error number instead of setting errno.
            return Err(errno_to_error(rc, format!("allocate {bytes} bytes for pmem segment {path}")));
        }
        // The size and the allocated extents must be durable before any data in them is.
        // SAFETY: fd is open.
        if unsafe { libc::fdatasync(fd) } != 0 {
            return Err(errno_error(format!("fdatasync pmem segment {path} after allocation")));
        }
        let mut cfg: *mut sys::pmem2_config = std::ptr::null_mut();
        let mut src: *mut sys::pmem2_source = std::ptr::null_mut();
        let mut map: *mut sys::pmem2_map = std::ptr::null_mut();
        // SAFETY: out-pointers are valid; every object made here is deleted below
        // (config and source are not needed once the map exists).
        let result = unsafe {
            let r = (|| {
                if sys::pmem2_config_new(&mut cfg) != 0 {
                    return Err(format!("pmem2_config_new: {}", pmem2_message()));
                }
                // PAGE is the weakest requirement: it lets ordinary files map (msync
                // persistence) while DAX files still report BYTE or CACHE_LINE.
                if sys::pmem2_config_set_required_store_granularity(cfg, sys::pmem2_granularity_PMEM2_GRANULARITY_PAGE) != 0 {
                    return Err(format!("pmem2_config_set_required_store_granularity: {}", pmem2_message()));
                }
                if sys::pmem2_source_from_fd(&mut src, fd) != 0 {
                    return Err(format!("pmem2_source_from_fd: {}", pmem2_message()));
                }
                if sys::pmem2_map_new(&mut map, cfg, src) != 0 {
                    return Err(format!("pmem2_map_new: {}", pmem2_message()));
                }
                Ok(())
            })();
            if !src.is_null() {
                sys::pmem2_source_delete(&mut src);
            }
            if !cfg.is_null() {
                sys::pmem2_config_delete(&mut cfg);
            }
            r
        };
        if let Err(msg) = result {
            return Err(NativeError::new(Code::StorageIo, format!("map pmem segment {path} ({bytes} bytes): {msg}")));
        }
        // SAFETY: map is a valid map object made above.
        unsafe {
            let addr = sys::pmem2_map_get_address(map) as *mut u8;
            let size = sys::pmem2_map_get_size(map);
            let memcpy = sys::pmem2_get_memcpy_fn(map);
            let persist = sys::pmem2_get_persist_fn(map);
            let drain = sys::pmem2_get_drain_fn(map);
            match (memcpy, persist, drain) {
                (Some(memcpy), Some(persist), Some(drain)) if !addr.is_null() && size >= bytes as usize => {
                    Ok(Mapping { fd, map, addr, size, memcpy, persist, drain })
                }
                _ => {
                    sys::pmem2_map_delete(&mut map);
                    Err(NativeError::new(Code::Internal, format!("pmem segment {path}: libpmem2 map of {size} bytes without functions or address")))
                }
            }
        }
    }

    fn granularity(&self) -> &'static str {
        // SAFETY: self.map is valid until drop.
        granularity_name(unsafe { sys::pmem2_map_get_store_granularity(self.map) })
    }

    /// Copies `parts` back to back from `offset`, then persists and drains the range.
    fn write(&self, offset: usize, parts: &[Buffer]) -> NativeResult<usize> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if offset.checked_add(total).map_or(true, |end| end > self.size) {
            return Err(NativeError::new(Code::InvalidArgument, format!("write of {total} bytes at {offset} past the mapped {} bytes", self.size)));
        }
        if total > 0 {
            // Fault the destination pages in with one call instead of one page fault
            // per 4 KiB store (a fresh mapping has no pages yet). Advisory: on kernels
            // without MADV_POPULATE_WRITE (before 5.14) the stores fault them in.
            let page = 4096usize;
            let start = offset & !(page - 1);
            let end = (offset + total).min(self.size);
            // SAFETY: [start, end) lies within the mapping; madvise does not change its contents.
            unsafe { libc::madvise(self.addr.add(start) as *mut c_void, end - start, libc::MADV_POPULATE_WRITE) };
        }
        let mut at = offset;
        for p in parts {
            if p.is_empty() {
                continue;
            }
            // SAFETY: [at, at + len) lies within the mapping (checked above); the
            // source is a live JS Buffer kept alive by the task that owns `parts`.
            unsafe {
                (self.memcpy)(self.addr.add(at) as *mut c_void, p.as_ptr() as *const c_void, p.len(), sys::PMEM2_F_MEM_NOFLUSH);
            }
            at += p.len();
        }
        if total > 0 {
            // SAFETY: the range lies within the mapping.
            unsafe {
                (self.persist)(self.addr.add(offset) as *const c_void, total);
                (self.drain)();
            }
        }
        Ok(total)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: map and fd are owned by this Mapping and released exactly once.
        unsafe {
            sys::pmem2_map_delete(&mut self.map);
            libc::close(self.fd);
        }
    }
}

/// A segment file of a pmem tier, mapped through libpmem2 and written by memcpy + persist.
#[napi]
pub struct PmemSegment {
    inner: Arc<Mutex<Option<Mapping>>>,
    granularity: &'static str,
    mapped_bytes: i64,
    path: String,
}

#[napi]
impl PmemSegment {
    /// Store granularity of the mapping: "BYTE" or "CACHE_LINE" on real persistent
    /// memory through DAX, "PAGE" on an ordinary file (persistence by msync).
    #[napi(getter)]
    pub fn granularity(&self) -> String {
        self.granularity.to_string()
    }

    /// Size of the file and its mapping, bytes.
    #[napi(getter)]
    pub fn mapped_bytes(&self) -> i64 {
        self.mapped_bytes
    }

    #[napi(getter)]
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// Copies `parts` back to back at `offset` and makes them durable; resolves with the bytes written.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn write(&self, offset: i64, parts: Vec<Buffer>) -> napi::Result<AsyncTask<WriteTask>> {
        if offset < 0 {
            return Err(map_error(NativeError::new(Code::InvalidArgument, format!("write offset {offset} < 0"))));
        }
        Ok(AsyncTask::new(WriteTask { inner: self.inner.clone(), offset: offset as usize, parts, path: self.path.clone() }))
    }

    /// Unmaps and closes the file, first truncating it to `truncateTo` bytes when given
    /// (the durable length: a sealed segment keeps no preallocated tail). Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self, truncate_to: Option<i64>) -> AsyncTask<CloseTask> {
        AsyncTask::new(CloseTask { inner: self.inner.clone(), truncate_to, path: self.path.clone() })
    }
}

/// Creates a new segment file of `bytes` bytes at `path` (which must not exist),
/// allocated on the file system and mapped through libpmem2.
#[napi(ts_return_type = "Promise<PmemSegment>")]
pub fn pmem_segment_create(path: String, bytes: i64) -> AsyncTask<CreateTask> {
    AsyncTask::new(CreateTask { path, bytes })
}

pub struct CreateTask {
    path: String,
    bytes: i64,
}

impl Task for CreateTask {
    type Output = (Mapping, &'static str);
    type JsValue = PmemSegment;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let m = Mapping::create(&self.path, self.bytes).map_err(map_error)?;
        let g = m.granularity();
        Ok((m, g))
    }

    fn resolve(&mut self, _env: Env, (m, granularity): Self::Output) -> napi::Result<PmemSegment> {
        Ok(PmemSegment { inner: Arc::new(Mutex::new(Some(m))), granularity, mapped_bytes: self.bytes, path: self.path.clone() })
    }
}

pub struct WriteTask {
    inner: Arc<Mutex<Option<Mapping>>>,
    offset: usize,
    parts: Vec<Buffer>,
    path: String,
}

impl Task for WriteTask {
    type Output = i64;
    type JsValue = i64;

    fn compute(&mut self) -> napi::Result<i64> {
        let guard = self.inner.lock().map_err(|_| map_error(NativeError::new(Code::Internal, "pmem segment lock poisoned")))?;
        let m = guard.as_ref().ok_or_else(|| map_error(NativeError::new(Code::StorageIo, format!("pmem segment {} is closed", self.path))))?;
        let n = m.write(self.offset, &self.parts).map_err(|e| map_error(NativeError::new(e.code, format!("pmem segment {}: {}", self.path, e.message))))?;
        Ok(n as i64)
    }

    fn resolve(&mut self, _env: Env, n: i64) -> napi::Result<i64> {
        Ok(n)
    }
}

pub struct CloseTask {
    inner: Arc<Mutex<Option<Mapping>>>,
    truncate_to: Option<i64>,
    path: String,
}

impl Task for CloseTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        let mut guard = self.inner.lock().map_err(|_| map_error(NativeError::new(Code::Internal, "pmem segment lock poisoned")))?;
        let Some(m) = guard.take() else { return Ok(()) };
        let fd = m.fd;
        // Unmap first: the file must not shrink under a live mapping.
        // SAFETY: the map is owned by m and deleted once; fd stays open until closed below.
        let mut map = m.map;
        unsafe { sys::pmem2_map_delete(&mut map) };
        std::mem::forget(m);
        let mut result = Ok(());
        if let Some(len) = self.truncate_to {
            // SAFETY: fd is open and ours.
            if len < 0 || unsafe { libc::ftruncate(fd, len as libc::off_t) } != 0 {
                result = Err(map_error(errno_error(format!("truncate pmem segment {} to {len} bytes", self.path))));
            }
        }
        // SAFETY: fd is ours, closed exactly once.
        unsafe { libc::close(fd) };
        result
    }

    fn resolve(&mut self, _env: Env, _: ()) -> napi::Result<()> {
        Ok(())
    }
}
