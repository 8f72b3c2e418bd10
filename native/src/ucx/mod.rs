//! UCX one-sided read path: a server registers sealed segment files and clients
//! read them with ucp_get_nbx. Design, threads, lifetimes, formats: native/UCX.md.
mod context;
mod endpoint;
mod inbox;
mod limits;
mod mailbox;
mod mapping;
mod memory;
mod progress;
mod region;
mod region_key;
mod region_table;
mod server;
mod server_region;
mod sockaddr;
mod status;
mod worker;

pub use region::UcxRegion;
pub use server::UcxServer;
