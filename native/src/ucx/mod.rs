//! UCX one-sided read path: a server registers sealed segment files and clients
//! read them with ucp_get_nbx. Design, threads, lifetimes, formats: native/UCX.md.
mod client;
mod context;
mod endpoint;
mod get_op;
mod get_plan;
mod inbox;
mod limits;
mod mailbox;
mod mapping;
mod memory;
mod progress;
mod region;
mod rkey_cache;
mod region_key;
mod region_table;
mod server;
mod server_region;
mod sockaddr;
mod status;
mod worker;
mod worker_address;

