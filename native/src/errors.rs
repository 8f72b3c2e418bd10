//! The one mapping from native failures to JavaScript errors. Every error carries
//! a stable code name from the wire `ErrorCode` enum (schemas/pegasus.fbs), as the
//! JS error's `code`, so TypeScript callers branch on the same codes as elsewhere.
use napi::{Error, Status};

/// Wire error code names (schemas/pegasus.fbs `ErrorCode`) used by the native module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    StorageIo,
    ConnectionClosed,
    Timeout,
    NotFound,
    Internal,
    ShuttingDown,
    LimitExceeded,
    DiskFull,
}

impl Code {
    /// Every code, for the test that keeps them in the wire enum.
    #[cfg(test)]
    const ALL: [Code; 9] = [
        Code::InvalidArgument,
        Code::StorageIo,
        Code::ConnectionClosed,
        Code::Timeout,
        Code::NotFound,
        Code::Internal,
        Code::ShuttingDown,
        Code::LimitExceeded,
        Code::DiskFull,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::StorageIo => "STORAGE_IO",
            Code::ConnectionClosed => "CONNECTION_CLOSED",
            Code::Timeout => "TIMEOUT",
            Code::NotFound => "NOT_FOUND",
            Code::Internal => "INTERNAL",
            Code::ShuttingDown => "SHUTTING_DOWN",
            Code::LimitExceeded => "LIMIT_EXCEEDED",
            Code::DiskFull => "DISK_FULL",
        }
    }
}

/// A native failure: a wire code and a message with the numbers needed to understand it.
#[derive(Debug, Clone)]
pub struct NativeError {
    pub code: Code,
    pub message: String,
}

impl NativeError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        NativeError { code, message: message.into() }
    }
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

/// The JS error for a native failure: `message` is "CODE: text"; the facade
/// (native/ts/index.ts) turns the prefix into the error's `code`.
pub fn map_error(e: NativeError) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {}", e.code.name(), e.message))
}

pub type NativeResult<T> = std::result::Result<T, NativeError>;

#[cfg(test)]
mod tests {
    use super::Code;

    /// Every native code is a member of the wire ErrorCode enum, the one table
    /// shared with TypeScript and Java: the native module invents no codes.
    #[test]
    fn every_code_is_in_the_wire_enum() {
        let fbs = include_str!("../../schemas/pegasus.fbs");
        let start = fbs.find("enum ErrorCode").expect("ErrorCode enum in pegasus.fbs");
        let body = &fbs[start..start + fbs[start..].find('}').expect("end of ErrorCode")];
        for code in Code::ALL {
            let member = format!("  {} = ", code.name());
            assert!(body.contains(&member), "{} is not in schemas/pegasus.fbs ErrorCode", code.name());
        }
    }
}
