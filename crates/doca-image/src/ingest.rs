//! The one path by which images enter the store (load, import, later pull and build):
//! content first (blobs, then snapshots, both atomic), then one database transaction that makes
//! the image visible. A process killed anywhere before the commit leaves only unreferenced
//! content, which `system check` reports as dangling and GC removes; nothing referenced is ever
//! missing.

use crate::config::ImageConfig;
use crate::reference::Reference;
use crate::unpack::{unpack_layer, UnpackError, UnpackOptions, Unpacked};
use doca_store::{
    chain_ids, BlobStore, Digest, ImageRow, LayerRow, LockMode, SnapshotRow, Snapshots, Store, StoreError, StoreLock, TempSnapshot,
};
use std::collections::{HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("layer {layer}: {source}")]
    Unpack { layer: Digest, source: UnpackError },
    #[error("layer {layer}: content does not match the image config: DiffID is {actual}, config says {expected}")]
    DiffId { layer: Digest, expected: Digest, actual: Digest },
    #[error("image config {config}: has {diff_ids} layers in rootfs.diff_ids but the manifest lists {layers}")]
    LayerCount { config: Digest, diff_ids: usize, layers: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    /// Whether the host (its disk), not the content, failed.
    pub fn is_host_failure(&self) -> bool {
        match self {
            IngestError::Unpack { source, .. } => source.is_host_failure(),
            IngestError::Store(_) => true,
            _ => false,
        }
    }
}

impl From<doca_store::BlobError> for IngestError {
    fn from(e: doca_store::BlobError) -> Self {
        IngestError::Store(e.into())
    }
}
impl From<doca_store::DbError> for IngestError {
    fn from(e: doca_store::DbError) -> Self {
        IngestError::Store(e.into())
    }
}
impl From<doca_store::SnapshotError> for IngestError {
    fn from(e: doca_store::SnapshotError) -> Self {
        IngestError::Store(e.into())
    }
}

/// A layer as a manifest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    pub digest: Digest,
    pub media_type: String,
}

/// An image whose blobs are all in the store, ready to be unpacked and recorded.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub config_digest: Digest,
    pub config: ImageConfig,
    pub manifest_digest: Digest,
    pub layers: Vec<LayerBlob>,
    pub tags: Vec<Reference>,
    pub repo_digests: Vec<String>,
}

/// What committing one image did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub id: Digest,
    pub tags: Vec<Reference>,
    /// Tags that pointed at another image before, with that image.
    pub moved: Vec<(Reference, Digest)>,
}

/// A layer to unpack: its chain id, the DiffID the config promises, and its blob.
struct LayerJob {
    chain_id: Digest,
    diff_id: Digest,
    blob: LayerBlob,
}

/// A layer unpacked into its snapshot.
struct LayerDone {
    chain_id: Digest,
    content_size: u64,
    /// false when another process committed the same snapshot first.
    created: bool,
}

fn unpack_one(blobs: &BlobStore, snapshots: &Snapshots, job: &LayerJob, opts: UnpackOptions) -> Result<LayerDone, IngestError> {
    let tmp = snapshots.prepare()?;
    let f = blobs.open_blob(&job.blob.digest)?;
    let u = unpack_layer(f, tmp.path(), opts, true).map_err(|source| IngestError::Unpack { layer: job.blob.digest.clone(), source })?;
    finish_layer(snapshots, job, tmp, u)
}

/// Checks an unpacked layer against the DiffID the config promises and commits its snapshot.
fn finish_layer(snapshots: &Snapshots, job: &LayerJob, tmp: TempSnapshot, u: Unpacked) -> Result<LayerDone, IngestError> {
    let actual = u.diff_id.unwrap_or_else(|| job.blob.digest.clone());
    if actual != job.diff_id {
        return Err(IngestError::DiffId { layer: job.blob.digest.clone(), expected: job.diff_id.clone(), actual });
    }
    let created = snapshots.commit(tmp, &job.chain_id)?;
    Ok(LayerDone { chain_id: job.chain_id.clone(), content_size: u.content_size, created })
}

type EarlyResult = Result<(TempSnapshot, Unpacked), UnpackError>;

/// A layer unpacked on another thread while its bytes stream into the blob store, before the
/// archive has said which layer (DiffID, chain id) it is. The channel is bounded, so memory does
/// not grow with the layer. Dropping it closes the stream and joins the thread, which removes
/// its temp snapshot: nothing outlives a failed load.
pub struct EarlyUnpack {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    state: Option<EarlyState>,
}

enum EarlyState {
    Running(std::thread::JoinHandle<EarlyResult>),
    Done(EarlyResult),
}

/// Reads the chunks an `EarlyUnpack` is fed; end of stream when the sender is gone.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.cur = c;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl EarlyUnpack {
    /// Starts an unpack fed by `feed`; the caller bounds how many run at once (`start_early`
    /// waits for the previous ones; a pull runs one per download thread).
    pub fn start(snapshots: &Snapshots, opts: UnpackOptions) -> Result<Self, IngestError> {
        let tmp = snapshots.prepare()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let handle = std::thread::spawn(move || {
            let mut reader = ChannelReader { rx, cur: Vec::new(), pos: 0 };
            let r = unpack_layer(&mut reader, tmp.path(), opts, true);
            // Keep taking chunks after a failure so the feeder never blocks on a full channel.
            while reader.rx.recv().is_ok() {}
            r.map(|u| (tmp, u))
        });
        Ok(EarlyUnpack { tx: Some(tx), state: Some(EarlyState::Running(handle)) })
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if let Some(tx) = &self.tx {
            // A failed unpacker drains and drops its end; the failure is reported on `finish`.
            let _ = tx.send(chunk.to_vec());
        }
    }

    /// Ends the stream and waits for the unpack to finish, keeping its result.
    fn wait(&mut self) {
        self.tx = None;
        self.state = match self.state.take() {
            Some(EarlyState::Running(h)) => Some(EarlyState::Done(h.join().expect("early unpack thread panicked"))),
            other => other,
        };
    }

    fn finish(mut self) -> EarlyResult {
        self.wait();
        match self.state.take() {
            Some(EarlyState::Done(r)) => r,
            _ => unreachable!("wait leaves a result"),
        }
    }
}

impl Drop for EarlyUnpack {
    fn drop(&mut self) {
        // Joining drops the result, and with it the temp snapshot.
        self.wait();
    }
}

/// Holds the store lock shared while content is written, and remembers what this process
/// created so a failure can take exactly that back out.
pub struct IngestSession {
    /// Layers unpacked while streaming, by blob digest. Declared before `lock`: their threads
    /// are joined before the lock is released.
    early: HashMap<Digest, EarlyUnpack>,
    lock: Option<StoreLock>,
    created_blobs: Vec<Digest>,
    created_snapshots: Vec<Digest>,
}

impl IngestSession {
    pub fn begin(store: &Store) -> Result<Self, IngestError> {
        Ok(IngestSession {
            early: HashMap::new(),
            lock: Some(store.lock(LockMode::Shared)?),
            created_blobs: Vec::new(),
            created_snapshots: Vec::new(),
        })
    }

    /// Starts unpacking a member that is streaming in. First waits for the unpacks already
    /// handed over: at most the previous layer and this one unpack at once, so threads and their
    /// buffers do not pile up when reading outruns the disk.
    pub fn start_early(&mut self, snapshots: &Snapshots, opts: UnpackOptions) -> Result<EarlyUnpack, IngestError> {
        for e in self.early.values_mut() {
            e.wait();
        }
        EarlyUnpack::start(snapshots, opts)
    }

    /// Hands over a layer unpacked while blob `digest` streamed in.
    pub fn adopt_early(&mut self, digest: Digest, early: EarlyUnpack) {
        self.early.insert(digest, early);
    }

    /// Notes a blob this session wrote, so a failure can take it back.
    pub fn record(&mut self, ingested: &doca_store::Ingested) {
        if ingested.created {
            self.created_blobs.push(ingested.digest.clone());
        }
    }

    /// Unpacks every layer of `images` that has no snapshot yet, verifying DiffIDs. Layers
    /// unpack in parallel.
    pub fn unpack(&mut self, store: &Store, images: &[NewImage], opts: UnpackOptions) -> Result<HashMap<Digest, u64>, IngestError> {
        let mut jobs: Vec<LayerJob> = Vec::new();
        let mut sizes = HashMap::new();
        let mut queued = HashSet::new();
        for img in images {
            let diff_ids = &img.config.rootfs.diff_ids;
            if diff_ids.len() != img.layers.len() {
                return Err(IngestError::LayerCount {
                    config: img.config_digest.clone(),
                    diff_ids: diff_ids.len(),
                    layers: img.layers.len(),
                });
            }
            for ((chain, diff), blob) in chain_ids(diff_ids).into_iter().zip(diff_ids).zip(&img.layers) {
                if !queued.insert(chain.clone()) {
                    continue;
                }
                if store.snapshots.exists(&chain) {
                    continue;
                }
                jobs.push(LayerJob { chain_id: chain, diff_id: diff.clone(), blob: blob.clone() });
            }
        }
        // Layers unpacked while the archive streamed in only need checking and committing.
        let mut rest = Vec::new();
        for job in jobs {
            let Some(early) = self.early.remove(&job.blob.digest) else {
                rest.push(job);
                continue;
            };
            let d = early
                .finish()
                .map_err(|source| IngestError::Unpack { layer: job.blob.digest.clone(), source })
                .and_then(|(tmp, u)| finish_layer(&store.snapshots, &job, tmp, u))?;
            // Recorded at once: a later failure must be able to take it back.
            if d.created {
                self.created_snapshots.push(d.chain_id.clone());
            }
            sizes.insert(d.chain_id, d.content_size);
        }
        let jobs = rest;
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(jobs.len()).max(1);
        let next = std::sync::atomic::AtomicUsize::new(0);
        // Workers share the blob and snapshot stores, never the database connection.
        let (blobs, snapshots) = (&store.blobs, &store.snapshots);
        // Each worker returns what it committed even when it then fails: a failure must be able
        // to take back every snapshot this session created.
        let results: Vec<(Vec<LayerDone>, Option<IngestError>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(|| {
                        let mut done = Vec::new();
                        while let Some(job) = jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                            match unpack_one(blobs, snapshots, job, opts) {
                                Ok(d) => done.push(d),
                                Err(e) => return (done, Some(e)),
                            }
                        }
                        (done, None)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("unpack worker panicked")).collect()
        });
        let mut first_err = None;
        for (done, err) in results {
            for d in done {
                if d.created {
                    self.created_snapshots.push(d.chain_id.clone());
                }
                sizes.insert(d.chain_id, d.content_size);
            }
            if let Some(e) = err {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(sizes),
        }
    }

    /// Records `images` in one transaction and releases the lock; then removes content this
    /// session created that no image references (junk files in an archive).
    pub fn commit(
        mut self,
        store: &mut Store,
        images: &[NewImage],
        sizes: &HashMap<Digest, u64>,
        now: i64,
    ) -> Result<Vec<Committed>, IngestError> {
        let mut missing_sizes = HashMap::new();
        for img in images {
            for chain in chain_ids(&img.config.rootfs.diff_ids) {
                if !sizes.contains_key(&chain) {
                    let known = store.db.read(|tx| tx.snapshot(&chain))?;
                    let size = match known {
                        Some(s) => s.size as u64,
                        // Committed by a process that died before recording it: measure it.
                        None => content_size(&store.snapshots.path(&chain)),
                    };
                    missing_sizes.insert(chain, size);
                }
            }
        }
        let size_of = |c: &Digest| sizes.get(c).or_else(|| missing_sizes.get(c)).copied().unwrap_or(0);
        let out = store.db.write(|tx| {
            let mut out = Vec::new();
            for img in images {
                let diffs = &img.config.rootfs.diff_ids;
                let chains = chain_ids(diffs);
                let mut layer_rows = Vec::new();
                let mut total = 0u64;
                for ((chain, diff), blob) in chains.iter().zip(diffs).zip(&img.layers) {
                    let size = size_of(chain);
                    total += size;
                    tx.insert_snapshot(&SnapshotRow { chain_id: chain.clone(), diff_id: diff.clone(), size: size as i64 })?;
                    layer_rows.push(LayerRow {
                        blob: blob.digest.clone(),
                        media_type: blob.media_type.clone(),
                        diff_id: diff.clone(),
                        chain_id: chain.clone(),
                    });
                }
                let labels = img.config.labels().into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
                tx.insert_image(
                    &ImageRow {
                        id: img.config_digest.clone(),
                        manifest: img.manifest_digest.clone(),
                        created: img.config.created.clone().unwrap_or_default(),
                        created_unix: img.config.created_unix(),
                        size: total as i64,
                        labels,
                        added_unix: now,
                    },
                    &layer_rows,
                )?;
                let mut moved = Vec::new();
                for t in &img.tags {
                    if let Some(old) = tx.set_tag(&t.to_string(), &img.config_digest, now)? {
                        moved.push((t.clone(), old));
                    }
                }
                for rd in &img.repo_digests {
                    tx.add_repo_digest(rd, &img.config_digest)?;
                }
                out.push(Committed { id: img.config_digest.clone(), tags: img.tags.clone(), moved });
            }
            Ok(out)
        })?;
        self.early.clear();
        self.lock = None;
        let referenced: HashSet<&Digest> = images
            .iter()
            .flat_map(|i| {
                std::iter::once(&i.config_digest).chain(std::iter::once(&i.manifest_digest)).chain(i.layers.iter().map(|l| &l.digest))
            })
            .collect();
        self.created_blobs.retain(|d| !referenced.contains(d));
        self.created_snapshots.clear();
        if !self.created_blobs.is_empty() {
            self.take_back(store)?;
        }
        Ok(out)
    }

    /// Undo after a failure: removes what this session created and no image references.
    pub fn abort(mut self, store: &mut Store) {
        let _ = self.take_back(store);
    }

    fn take_back(&mut self, store: &mut Store) -> Result<(), IngestError> {
        // Another process may have started to use what we created (it found the blob present);
        // decide under the exclusive lock, from the database, as GC does.
        self.early.clear();
        self.lock = None;
        if self.created_blobs.is_empty() && self.created_snapshots.is_empty() {
            return Ok(());
        }
        let _x = store.lock(LockMode::Exclusive)?;
        let (blobs, snaps) = store.db.read(|tx| Ok((tx.referenced_blobs()?, tx.referenced_snapshots()?)))?;
        for d in self.created_blobs.drain(..) {
            if !blobs.contains(&d) {
                store.blobs.remove(&d)?;
            }
        }
        for c in self.created_snapshots.drain(..) {
            if !snaps.contains(&c) {
                store.snapshots.remove(&c)?;
            }
        }
        Ok(())
    }
}

/// The whole ingest: `prepare` writes blobs through the session and names the images; their
/// layers are unpacked and the images committed. On any failure what this ingest created is
/// taken back and the store is as it was. `wrap` turns ingest errors into the caller's.
pub fn ingest<E>(
    store: &mut Store,
    opts: UnpackOptions,
    now: i64,
    wrap: impl Fn(IngestError) -> E,
    prepare: impl FnOnce(&Store, &mut IngestSession) -> Result<Vec<NewImage>, E>,
) -> Result<Vec<Committed>, E> {
    let mut session = IngestSession::begin(store).map_err(&wrap)?;
    let prepared = prepare(store, &mut session).and_then(|images| {
        let sizes = session.unpack(store, &images, opts).map_err(&wrap)?;
        Ok((images, sizes))
    });
    match prepared {
        Ok((images, sizes)) => session.commit(store, &images, &sizes, now).map_err(wrap),
        Err(e) => {
            session.abort(store);
            Err(e)
        }
    }
}

/// Content size of an unpacked tree, counted as the unpacker counts it.
fn content_size(root: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut seen = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                if m.nlink() == 1 || seen.insert(m.ino()) {
                    total += m.len();
                }
            } else if m.file_type().is_symlink() {
                total += m.len();
            }
        }
    }
    total
}
