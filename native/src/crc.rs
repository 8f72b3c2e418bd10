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

#[cfg(test)]
mod tests {
    use super::crc32c;

    /// The standard check value of CRC-32C ("123456789").
    #[test]
    fn check_value() {
        assert_eq!(crc32c(b"123456789", None), 0xe306_9283);
    }

    /// Continuing from a previous CRC equals the CRC of the concatenation.
    #[test]
    fn continued_equals_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let (a, b) = data.split_at(3_333);
        assert_eq!(crc32c(b, Some(crc32c(a, None))), crc32c(&data, None));
    }
}
