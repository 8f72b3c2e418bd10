// The tenants of the engine and where each one's data lives: the one place
// where the engine names a tenant. Everything else in engine/ is keyed by a
// LogId and reads this table.
//
// A tenant owns logs grouped by owner (for the shuffle tenant: an owner is an
// application, a log is a shuffle; for the objects tenant: an owner is a bucket
// of 65,536 object ids, a log is one object's bytes). On disk a log's segment files live under
// `<tier>/<dirName>/<owner>/<id>/`; in the catalog its rows carry the tenant's
// tags (engine/catalog/INDEX_FORMAT.md). Tags and directory names are on-disk
// values: they never change meaning and a retired one is never reused.

export type TenantName = 'shuffle' | 'objects';

export interface TenantLayout {
  readonly name: TenantName;
  /** Folder under each tier's directory that holds the tenant's logs. */
  readonly dirName: string;
  /** Catalog tags of the rows the engine writes for this tenant. */
  readonly tags: {
    /** An owner exists (value: the tenant's). */
    readonly owner: number;
    /** A log exists (value: the tenant's record of it). */
    readonly log: number;
    /** A run of a log (key: log, partition, segment, offset). */
    readonly run: number;
    /**
     * The runs of one append for one group of partitions, packed in one row
     * (key: log, group, segment, first offset). Replaces per-run rows for new
     * writes; `run` rows are still read (indexes written before run groups).
     */
    readonly runGroup: number;
    /** A segment of a log and its durable length. */
    readonly segment: number;
    /** Rows the tenant keeps per log besides runs and segments (deleted with the log). */
    readonly logPrivate: readonly number[];
    /** Rows the tenant keeps apart from any log (its own key layout after the tag; Catalog.getRow, listRows, writeRows). */
    readonly rows: readonly number[];
  };
}

export const TENANTS: Readonly<Record<TenantName, TenantLayout>> = {
  shuffle: {
    name: 'shuffle',
    dirName: 'shuffles',
    tags: { owner: 0x01, log: 0x02, run: 0x03, segment: 0x05, runGroup: 0x06, logPrivate: [0x04], rows: [] },
  },
  objects: {
    name: 'objects',
    dirName: 'objects',
    // rows: 0x18 directory entries, 0x19 pending objects, 0x1a the id counter, 0x1b expiry times,
    // 0x1c quotas, 0x1d inline bytes of small files (objects/OBJECT_ROWS.md).
    tags: { owner: 0x10, log: 0x11, run: 0x12, segment: 0x13, runGroup: 0x14, logPrivate: [], rows: [0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d] },
  },
};

export function tenantLayout(name: TenantName): TenantLayout {
  return TENANTS[name];
}

/** Every tag used by any tenant, with its owner; checked for collisions at load. */
function checkTags(): void {
  const seen = new Map<number, string>([[0x00, 'meta']]);
  for (const t of Object.values(TENANTS)) {
    const tags = [t.tags.owner, t.tags.log, t.tags.run, t.tags.runGroup, t.tags.segment, ...t.tags.logPrivate, ...t.tags.rows];
    for (const tag of tags) {
      const prior = seen.get(tag);
      if (prior !== undefined) throw new Error(`catalog tag ${tag} of tenant ${t.name} is already used by ${prior}`);
      seen.set(tag, t.name);
    }
  }
}
checkTags();
