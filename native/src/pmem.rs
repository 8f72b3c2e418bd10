//! PMem segment files through libpmem2 (filled in by the PMem work).
