// When an append counts as durable (config commitDurability). The engine's one
// durable step (Engine.append) and everything under it read this.
//
//   sync     segment bytes fdatasync'ed, new directory entries fsync'ed, the
//            catalog batch written with sync:true. Survives a power loss.
//   process  segment bytes written to the operating system (pwritev), the
//            catalog batch written without sync (LevelDB's log, in the page
//            cache). Survives a kill -9 of the server, not a power loss or a
//            kernel crash. What such a loss can leave, and how it is found at
//            the next start, never served:
//              - catalog rows lost: their runs are unindexed bytes (a torn
//                tail, cut) and their commits are gone (the engine recomputes
//                those maps);
//              - segment bytes lost under surviving rows: a file shorter than
//                its row's durable length, or missing, is CORRUPT_DATA at
//                recovery and the log is not served (quarantined); bytes that
//                are zeros or stale fail the run and block checks of every
//                read (CORRUPT_DATA, CHECKSUM_MISMATCH), never returned as data.
//            Segments of pmem tiers are persisted either way (libpmem2).
export type Durability = 'process' | 'sync';
