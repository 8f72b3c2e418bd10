//! A region as the server's progress thread holds it: the file mapping, its UCP
//! registration and its validity slot. Release order matters (region_table.rs):
//! clear the slot, unregister, then replace the mapping by a tombstone.
use crate::ucx::context::Context;
use crate::ucx::mapping::{FileMapping, Tombstone};
use crate::ucx::memory::Registration;
use crate::ucx::region_table::RegionTable;

pub struct ServerRegion {
    pub mapping: FileMapping,
    pub registration: Registration,
    pub slot_index: u32,
}

impl ServerRegion {
    /// Runs on the progress thread between progress calls, so no get is being served
    /// by this worker from the region's memory while it happens.
    pub fn release(self, context: &Context, table: &mut RegionTable) -> Option<Tombstone> {
        table.clear(self.slot_index);
        self.registration.unregister(context);
        self.mapping.into_tombstone()
    }
}
