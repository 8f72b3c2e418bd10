//! Pegasus native module. The `#[napi]` surface is thin: CRC32C (crc), the PMem
//! segment writer (pmem) and the UCX one-sided read path (ucx). Work that can take
//! more than about a millisecond runs off the JavaScript thread. Errors reach
//! JavaScript through one mapping (errors.rs) with the shared wire error codes.
mod crc;
mod errors;
mod pmem;
mod sys;
mod ucx;
