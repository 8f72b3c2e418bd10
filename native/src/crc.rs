//! CRC32C (Castagnoli) with the CPU's instructions (SSE 4.2 / ARMv8 CRC), the
//! checksum of every block and header (schemas/FRAMING.md, SEGMENT_FORMAT.md).
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// CRC32C of `data`, continuing from `initial` (the CRC of the preceding bytes; 0 to start).
#[napi(js_name = "crc32c")]
pub fn crc32c(data: &[u8], initial: Option<u32>) -> u32 {
    crc32c::crc32c_append(initial.unwrap_or(0), data)
}

/// CRC32C over the concatenation of `parts`, as if they were one buffer.
#[napi(js_name = "crc32cParts")]
pub fn crc32c_parts(parts: Vec<Buffer>, initial: Option<u32>) -> u32 {
    parts.iter().fold(initial.unwrap_or(0), |crc, p| crc32c::crc32c_append(crc, p))
}
