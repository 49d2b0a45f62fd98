//! COPY and ADD: which files a step takes (sources in the context or in another stage's
//! filesystem, wildcards, `.dockerignore`), where they land (docker's destination rules), their
//! identity for the cache (content digests, names, modes, owners), and the layer they make (a
//! tar written in path order, mtimes clamped when the build is reproducible).

use crate::ignore::{clean, glob_match, has_wildcard, Ignore};
use crate::instructions::CopySpec;
use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{0}")]
    Invalid(String),
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: String, source: io::Error },
}

fn ioerr<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> CopyError + 'p {
    move |source| CopyError::Io { what, path: path.display().to_string(), source }
}

/// Where a step's sources come from.
pub struct SourceRoot<'a> {
    pub dir: &'a Path,
    /// The context's `.dockerignore`; none for another stage or image.
    pub ignore: Option<&'a Ignore>,
    /// For messages: "build context" or "stage builder".
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Dir,
    /// A file on the host, its size when listed.
    File {
        path: PathBuf,
        size: u64,
    },
    Symlink(String),
    /// A here-document's text.
    Data(Vec<u8>),
    /// ADD of a local archive: its entries go under the destination.
    Archive(PathBuf),
}

/// One entry of the layer a COPY makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path in the image, without a leading `/`.
    pub dest: String,
    pub content: Content,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
}

/// A content digest cache keyed by what stat says, so unchanged files are not read again.
pub trait DigestCache {
    fn get(&mut self, key: &FileKey) -> Option<String>;
    fn put(&mut self, key: &FileKey, digest: &str);
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
}

impl FileKey {
    fn of(path: &Path, m: &std::fs::Metadata) -> FileKey {
        FileKey {
            path: path.display().to_string(),
            size: m.len(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            ino: m.ino(),
        }
    }
}

/// Resolves `rel` under `root` following symlinks as if `root` were `/`: nothing resolves
/// outside it (a context's `link -> ../../etc` stays inside, as BuildKit scopes the context).
/// The last component is followed only when `follow_last`.
pub fn resolve_in_root(root: &Path, rel: &str, follow_last: bool) -> PathBuf {
    let mut parts: Vec<String> =
        clean(rel.trim_start_matches('/')).split('/').filter(|p| *p != "." && !p.is_empty()).map(String::from).collect();
    parts.reverse();
    let mut cur: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(p) = parts.pop() {
        if p == ".." {
            cur.pop();
            continue;
        }
        let candidate: PathBuf = root.join(cur.iter().chain(std::iter::once(&p)).collect::<PathBuf>());
        let last = parts.is_empty();
        match std::fs::read_link(&candidate) {
            Ok(target) if (!last || follow_last) && hops < 40 => {
                hops += 1;
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    cur.clear();
                }
                for q in t.split('/').rev().filter(|q| !q.is_empty() && *q != ".") {
                    parts.push(q.to_string());
                }
            }
            _ => cur.push(p),
        }
    }
    root.join(cur.iter().collect::<PathBuf>())
}

/// What a COPY/ADD turns into: the entries, from the source root into an image whose
/// filesystem is at `image_root` (to tell existing directories, as docker does).
pub struct CopyPlan<'a> {
    pub spec: &'a CopySpec,
    pub from: SourceRoot<'a>,
    /// The filesystem of the image being built on; `None` when only the step's identity is
    /// wanted (the cache key), which the parent's own identity already covers.
    pub image_root: Option<&'a Path>,
    pub workdir: &'a str,
    /// The owner `--chown` names, resolved in the image.
    pub owner: (u32, u32),
    /// Every mtime becomes this (SOURCE_DATE_EPOCH).
    pub epoch: Option<i64>,
    /// The mtime of what the step makes (here-documents, new directories) without an epoch.
    pub now: i64,
}

fn is_archive(path: &Path) -> bool {
    let mut head = [0u8; 262];
    let Ok(mut f) = std::fs::File::open(path) else { return false };
    let n = f.read(&mut head).unwrap_or(0);
    let h = &head[..n];
    h.starts_with(&[0x1f, 0x8b]) || h.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) || (n >= 262 && &h[257..262] == b"ustar")
}

impl CopyPlan<'_> {
    pub fn entries(&self) -> Result<Vec<Entry>, CopyError> {
        let spec = self.spec;
        let what = if spec.add { "ADD" } else { "COPY" };
        let mut dest = spec.dest.clone();
        if !dest.starts_with('/') {
            dest = format!("{}/{dest}", self.workdir.trim_end_matches('/'));
        }
        let dest_clean = clean(dest.trim_start_matches('/'));
        let dest_rel = if dest_clean == "." { String::new() } else { dest_clean };
        // Every source, wildcards expanded, in the order written.
        let mut sources: Vec<(String, Option<&crate::parser::Heredoc>)> = Vec::new();
        for s in &spec.sources {
            if let Some(doc) =
                spec.heredocs.iter().find(|h| s.trim_start_matches("<<").trim_start_matches('-') == h.name && s.starts_with("<<"))
            {
                sources.push((doc.name.clone(), Some(doc)));
                continue;
            }
            if s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git@") {
                return Err(CopyError::Invalid(format!(
                    "{what} {s}: source can't be a URL for {what} (ADD downloads URLs; git sources are not supported)"
                )));
            }
            let rel = clean(s.trim_start_matches('/'));
            if rel == ".." || rel.starts_with("../") {
                return Err(CopyError::Invalid(format!("{what} failed: forbidden path outside the {}: {s}", self.from.name)));
            }
            if has_wildcard(&rel) {
                let found = self.glob(&rel)?;
                if found.is_empty() {
                    return Err(CopyError::Invalid(format!(
                        "{what} failed: no source files were specified: {s} matches nothing in the {}",
                        self.from.name
                    )));
                }
                sources.extend(found.into_iter().map(|f| (f, None)));
            } else {
                sources.push((rel, None));
            }
        }
        let many = sources.len() > 1;
        let dest_dir = spec.dest.ends_with('/')
            || dest_rel.is_empty()
            || self.image_root.is_some_and(|r| resolve_in_root(r, &dest_rel, true).is_dir());
        if many && !dest_dir {
            return Err(CopyError::Invalid(format!(
                "When using {what} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        let mut out: Vec<Entry> = Vec::new();
        // Directories the copy lands in (a directory's or an archive's destination), made
        // when missing like the entries' parents, and left as they are when the image has them.
        let mut dirs: Vec<String> = Vec::new();
        for (rel, doc) in sources {
            let target_for = |name: &str| if dest_dir { join(&dest_rel, name) } else { dest_rel.clone() };
            if let Some(doc) = doc {
                out.push(self.entry(target_for(&doc.name), Content::Data(doc.content.clone().into_bytes()), 0o644, None));
                continue;
            }
            let host = if rel == "." { self.from.dir.to_path_buf() } else { resolve_in_root(self.from.dir, &rel, true) };
            let excluded = self.from.ignore.is_some_and(|i| rel != "." && i.excludes(&rel));
            let meta = match std::fs::symlink_metadata(&host) {
                Ok(m) if !excluded => m,
                _ => {
                    return Err(CopyError::Invalid(format!(
                        "{what} failed: file not found in {}: stat {rel}: file does not exist{}",
                        self.from.name,
                        if excluded { " (it is excluded by .dockerignore)" } else { "" }
                    )))
                }
            };
            if meta.is_dir() {
                // A directory's contents are copied, not the directory itself.
                self.walk(&host, &rel, &dest_rel, &mut out)?;
                dirs.push(dest_rel.clone());
            } else if spec.add && meta.is_file() && is_archive(&host) {
                out.push(self.entry(dest_rel.clone(), Content::Archive(host.clone()), 0o755, Some(&meta)));
                dirs.push(dest_rel.clone());
            } else {
                let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
                out.push(self.entry_of(target_for(&name), &host, &meta)?);
            }
        }
        // The layer's paths go through the image's symlinks as the unpacker will see them: a
        // directory entry must never replace a link (COPY f /link/ lands where /link points).
        let real = |p: &str| -> String {
            let Some(root) = self.image_root else { return p.to_string() };
            resolve_in_root(root, p, true).strip_prefix(root).map(|r| r.to_string_lossy().into_owned()).unwrap_or_else(|_| p.to_string())
        };
        for e in &mut out {
            if matches!(e.content, Content::Archive(_)) {
                // Extracted into: the directory itself is followed.
                e.dest = real(&e.dest);
            } else if let Some((parent, name)) = e.dest.rsplit_once('/') {
                let r = real(parent);
                e.dest = if r.is_empty() { name.to_string() } else { format!("{r}/{name}") };
            }
        }
        // Parent directories: as they are in the image, or made (0755, the new owner).
        let mut parents: Vec<String> = dirs.iter().filter(|d| !d.is_empty()).map(|d| real(d)).filter(|d| !d.is_empty()).collect();
        for e in &out {
            let mut p = e.dest.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                parents.push(parent.to_string());
                p = parent;
            }
        }
        parents.sort();
        parents.dedup();
        for p in parents {
            if out.iter().any(|e| e.dest == p && !matches!(e.content, Content::Archive(_))) {
                continue;
            }
            let in_image = self.image_root.map(|r| resolve_in_root(r, &p, true));
            match in_image.map(std::fs::metadata) {
                Some(Ok(m)) if m.is_dir() => out.push(Entry {
                    dest: p,
                    content: Content::Dir,
                    mode: m.mode() & 0o7777,
                    uid: m.uid(),
                    gid: m.gid(),
                    mtime: self.clamp(m.mtime()),
                }),
                _ => out.push(Entry {
                    dest: p,
                    content: Content::Dir,
                    mode: 0o755,
                    uid: self.owner.0,
                    gid: self.owner.1,
                    mtime: self.epoch.unwrap_or(self.now),
                }),
            }
        }
        // Path order; an archive after the directory it is extracted into.
        let archive = |e: &Entry| matches!(e.content, Content::Archive(_));
        out.sort_by(|a, b| a.dest.cmp(&b.dest).then(archive(a).cmp(&archive(b))));
        // A path given twice (two sources with the same name): the last wins, as a copy would.
        let mut dedup: Vec<Entry> = Vec::with_capacity(out.len());
        for e in out {
            match dedup.last_mut() {
                Some(last) if last.dest == e.dest && !archive(&e) => *last = e,
                _ => dedup.push(e),
            }
        }
        Ok(dedup)
    }

    /// With an epoch every mtime is the epoch: the context's own (a checkout's, a touch's)
    /// never reach the image. Clamping alone would keep older mtimes, which differ between
    /// two checkouts of the same commit.
    fn clamp(&self, mtime: i64) -> i64 {
        self.epoch.unwrap_or(mtime)
    }

    fn entry(&self, dest: String, content: Content, mode: u32, meta: Option<&std::fs::Metadata>) -> Entry {
        let mtime = meta.map(|m| m.mtime()).or(self.epoch).unwrap_or(self.now);
        Entry { dest, content, mode: self.spec.chmod.unwrap_or(mode), uid: self.owner.0, gid: self.owner.1, mtime: self.clamp(mtime) }
    }

    fn entry_of(&self, dest: String, host: &Path, m: &std::fs::Metadata) -> Result<Entry, CopyError> {
        let content = if m.file_type().is_symlink() {
            Content::Symlink(std::fs::read_link(host).map_err(ioerr("readlink", host))?.to_string_lossy().into_owned())
        } else if m.is_dir() {
            Content::Dir
        } else if m.is_file() {
            Content::File { path: host.to_path_buf(), size: m.len() }
        } else {
            return Err(CopyError::Invalid(format!("{}: sockets, devices and fifos are not copied", host.display())));
        };
        let mode = if matches!(content, Content::Symlink(_)) { 0o777 } else { self.spec.chmod.unwrap_or(m.mode() & 0o7777) };
        Ok(Entry { dest, content, mode, uid: self.owner.0, gid: self.owner.1, mtime: self.clamp(m.mtime()) })
    }

    /// Everything under a source directory, not following symlinks, `.dockerignore` applied.
    fn walk(&self, dir: &Path, rel: &str, dest: &str, out: &mut Vec<Entry>) -> Result<(), CopyError> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(ioerr("read", dir))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()
            .map_err(ioerr("read", dir))?;
        names.sort();
        for n in names {
            let child_rel = if rel == "." { n.clone() } else { format!("{rel}/{n}") };
            let host = dir.join(&n);
            let m = std::fs::symlink_metadata(&host).map_err(ioerr("stat", &host))?;
            if let Some(i) = self.from.ignore {
                if m.is_dir() && i.skips_dir(&child_rel) {
                    continue;
                }
                if i.excludes(&child_rel) && !m.is_dir() {
                    continue;
                }
            }
            let d = join(dest, &n);
            if m.is_dir() {
                let before = out.len();
                self.walk(&host, &child_rel, &d, out)?;
                // An excluded directory is kept only for what an exception brought back.
                if !self.from.ignore.is_some_and(|i| i.excludes(&child_rel)) || out.len() > before {
                    out.push(self.entry_of(d, &host, &m)?);
                }
            } else {
                out.push(self.entry_of(d, &host, &m)?);
            }
        }
        Ok(())
    }

    /// The paths under the source root a wildcard source matches (sorted).
    fn glob(&self, pattern: &str) -> Result<Vec<String>, CopyError> {
        // Walk only as deep as the pattern has segments, below its wildcard-free prefix.
        let segments: Vec<&str> = pattern.split('/').collect();
        let fixed: Vec<&str> = segments.iter().take_while(|s| !has_wildcard(s)).copied().collect();
        let mut found = Vec::new();
        let start = fixed.join("/");
        let base = if start.is_empty() { self.from.dir.to_path_buf() } else { resolve_in_root(self.from.dir, &start, true) };
        let deep = segments.contains(&"**");
        let mut stack = vec![(base, start.clone(), fixed.len())];
        while let Some((dir, rel, depth)) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let r = if rel.is_empty() { n.clone() } else { format!("{rel}/{n}") };
                if self.from.ignore.is_some_and(|i| i.excludes(&r)) {
                    continue;
                }
                if glob_match(pattern, &r) {
                    found.push(r.clone());
                }
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir && (deep || depth + 1 < segments.len()) {
                    stack.push((e.path(), r, depth + 1));
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The identity of a COPY's result for the cache: every entry's path, kind, mode, owner and
/// content digest (mtimes left out: touching a file changes nothing). File digests come from
/// `cache` when stat says the file is unchanged.
pub fn entries_digest(entries: &[Entry], cache: &mut dyn DigestCache) -> Result<String, CopyError> {
    let mut h = Sha256::new();
    for e in entries {
        let content = match &e.content {
            Content::Dir => "dir".to_string(),
            Content::Symlink(t) => format!("link:{t}"),
            Content::Data(d) => format!("data:{}", hex::encode(Sha256::digest(d))),
            Content::File { path, .. } | Content::Archive(path) => {
                let kind = if matches!(e.content, Content::Archive(_)) { "archive" } else { "file" };
                format!("{kind}:{}", file_digest(path, cache)?)
            }
        };
        h.update(format!("{}\0{:o}\0{}\0{}\0{content}\n", e.dest, e.mode, e.uid, e.gid));
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

pub fn file_digest(path: &Path, cache: &mut dyn DigestCache) -> Result<String, CopyError> {
    let m = std::fs::metadata(path).map_err(ioerr("stat", path))?;
    let key = FileKey::of(path, &m);
    if let Some(d) = cache.get(&key) {
        return Ok(d);
    }
    let mut f = std::fs::File::open(path).map_err(ioerr("open", path))?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h).map_err(ioerr("read", path))?;
    let d = format!("sha256:{}", hex::encode(h.finalize()));
    // A file changed within the same timestamp tick as it was read would keep its stat: only
    // files older than a couple of seconds are remembered (git's "racily clean" rule).
    let now_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(i64::MAX);
    if key.mtime_ns.max(key.ctime_ns) < now_ns - 2_000_000_000 {
        cache.put(&key, &d);
    }
    Ok(d)
}

fn header(e: &Entry, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(e.mode);
    h.set_uid(u64::from(e.uid));
    h.set_gid(u64::from(e.gid));
    h.set_mtime(e.mtime.max(0) as u64);
    h.set_size(size);
    h
}

/// Writes the entries as a layer tar (they are sorted: parents before children).
pub fn write_layer(entries: &[Entry], out: &mut dyn Write) -> Result<(), CopyError> {
    let mut b = tar::Builder::new(out);
    let werr = |e: io::Error| CopyError::Io { what: "write", path: "the layer".into(), source: e };
    for e in entries {
        match &e.content {
            Content::Dir => {
                let mut h = header(e, tar::EntryType::Directory, 0);
                b.append_data(&mut h, &e.dest, io::empty()).map_err(werr)?;
            }
            Content::Symlink(t) => {
                let mut h = header(e, tar::EntryType::Symlink, 0);
                b.append_link(&mut h, &e.dest, t).map_err(werr)?;
            }
            Content::Data(d) => {
                let mut h = header(e, tar::EntryType::Regular, d.len() as u64);
                b.append_data(&mut h, &e.dest, d.as_slice()).map_err(werr)?;
            }
            Content::File { path, size } => {
                let f = std::fs::File::open(path).map_err(ioerr("open", path))?;
                let mut h = header(e, tar::EntryType::Regular, *size);
                // A file that changed size since it was listed is cut or padded to the size
                // in the header (the tar must stay well-formed).
                b.append_data(&mut h, &e.dest, f.take(*size).chain(io::repeat(0)).take(*size)).map_err(werr)?;
            }
            // Its directory is an entry of its own, before it.
            Content::Archive(path) => extract_into(&mut b, path, &e.dest)?,
        }
    }
    b.into_inner().map_err(werr)?;
    Ok(())
}

/// ADD of a local archive: its entries, re-rooted under `dest`, names cleaned so that none
/// climbs out (`../x` lands at `dest/x`, as docker's archive extraction does).
fn extract_into(b: &mut tar::Builder<&mut dyn Write>, path: &Path, dest: &str) -> Result<(), CopyError> {
    let mut head = [0u8; 6];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).map_err(ioerr("read", path))?;
    let f = std::fs::File::open(path).map_err(ioerr("open", path))?;
    let reader: Box<dyn Read> = if head[..n].starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else if head[..n].starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(xz2::read::XzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let bad = |e: io::Error| CopyError::Invalid(format!("ADD {}: not a valid archive: {e}", path.display()));
    let mut a = tar::Archive::new(reader);
    for entry in a.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let rel = clean(&format!("/{name}"));
        if rel == "." {
            continue;
        }
        let target = join(dest, &rel);
        let mut h = entry.header().clone();
        if let Ok(Some(link)) = entry.link_name() {
            let link = link.to_string_lossy().into_owned();
            if h.entry_type() == tar::EntryType::Link {
                // Hard links name a path of the same archive: re-rooted too.
                b.append_link(&mut h, &target, join(dest, &clean(&format!("/{link}")))).map_err(bad)?;
            } else {
                b.append_link(&mut h, &target, link).map_err(bad)?;
            }
            continue;
        }
        let size = h.size().map_err(bad)?;
        b.append_data(&mut h, &target, (&mut entry).take(size)).map_err(bad)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Counting {
        map: HashMap<FileKey, String>,
        reads: usize,
    }

    impl DigestCache for Counting {
        fn get(&mut self, key: &FileKey) -> Option<String> {
            let d = self.map.get(key).cloned();
            if d.is_none() {
                self.reads += 1;
            }
            d
        }
        fn put(&mut self, key: &FileKey, digest: &str) {
            self.map.insert(key.clone(), digest.to_string());
        }
    }

    fn spec(sources: &[&str], dest: &str) -> CopySpec {
        CopySpec {
            add: false,
            sources: sources.iter().map(|s| s.to_string()).collect(),
            dest: dest.into(),
            from: None,
            chown: None,
            chmod: None,
            link: false,
            heredocs: vec![],
        }
    }

    fn plan<'a>(spec: &'a CopySpec, ctx: &'a Path, image: &'a Path, ignore: Option<&'a Ignore>) -> CopyPlan<'a> {
        CopyPlan {
            spec,
            from: SourceRoot { dir: ctx, ignore, name: "build context".into() },
            image_root: Some(image),
            workdir: "/",
            owner: (0, 0),
            epoch: Some(100),
            now: 200,
        }
    }

    fn dests(e: &[Entry]) -> Vec<&str> {
        e.iter().map(|e| e.dest.as_str()).collect()
    }

    #[test]
    fn destination_rules_as_docker() {
        let ctx = tempfile::tempdir().unwrap();
        let img = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ctx.path().join("src/sub")).unwrap();
        std::fs::write(ctx.path().join("src/a.txt"), "a").unwrap();
        std::fs::write(ctx.path().join("src/sub/b.txt"), "b").unwrap();
        std::fs::write(ctx.path().join("one.txt"), "1").unwrap();
        std::fs::create_dir(img.path().join("existing")).unwrap();
        std::fs::create_dir(img.path().join("tmp")).unwrap();
        std::fs::set_permissions(img.path().join("tmp"), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
        // An existing destination directory keeps its mode and owner (/tmp stays 1777).
        let s = spec(&["src"], "/tmp/");
        let e = plan(&s, ctx.path(), img.path(), None).entries().unwrap();
        assert_eq!((e[0].dest.as_str(), e[0].mode), ("tmp", 0o1777));
        // A directory's contents go into the destination.
        let s = spec(&["src"], "/app");
        assert_eq!(dests(&plan(&s, ctx.path(), img.path(), None).entries().unwrap()), ["app", "app/a.txt", "app/sub", "app/sub/b.txt"]);
        // A file to a path, into a dir ending with /, into an existing directory.
        let s = spec(&["one.txt"], "/x/renamed");
        assert_eq!(dests(&plan(&s, ctx.path(), img.path(), None).entries().unwrap()), ["x", "x/renamed"]);
        let s = spec(&["one.txt"], "/x/");
        assert_eq!(dests(&plan(&s, ctx.path(), img.path(), None).entries().unwrap()), ["x", "x/one.txt"]);
        let s = spec(&["one.txt"], "/existing");
        assert_eq!(dests(&plan(&s, ctx.path(), img.path(), None).entries().unwrap()), ["existing", "existing/one.txt"]);
        // Wildcards, and several sources need a directory.
        let s = spec(&["src/*.txt", "one.txt"], "/d/");
        assert_eq!(dests(&plan(&s, ctx.path(), img.path(), None).entries().unwrap()), ["d", "d/a.txt", "d/one.txt"]);
        let s = spec(&["src/a.txt", "one.txt"], "/d");
        assert!(plan(&s, ctx.path(), img.path(), None).entries().unwrap_err().to_string().contains("must be a directory and end with a /"));
        let s = spec(&["../etc/passwd"], "/d");
        assert!(plan(&s, ctx.path(), img.path(), None).entries().unwrap_err().to_string().contains("outside the build context"));
        let s = spec(&["missing"], "/d");
        assert!(plan(&s, ctx.path(), img.path(), None).entries().unwrap_err().to_string().contains("stat missing: file does not exist"));
    }

    #[test]
    fn dockerignored_files_are_neither_copied_nor_hashed() {
        let ctx = tempfile::tempdir().unwrap();
        let img = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ctx.path().join("logs")).unwrap();
        std::fs::write(ctx.path().join("logs/x.log"), "x").unwrap();
        std::fs::write(ctx.path().join("keep.txt"), "k").unwrap();
        // ctime cannot be set back: wait until the files are no longer racily clean.
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let ignore = Ignore::parse("logs\n");
        let s = spec(&["."], "/app/");
        let p = plan(&s, ctx.path(), img.path(), Some(&ignore));
        let e = p.entries().unwrap();
        assert_eq!(dests(&e), ["app", "app/keep.txt"]);
        let mut cache = Counting::default();
        let d1 = entries_digest(&e, &mut cache).unwrap();
        std::fs::write(ctx.path().join("logs/x.log"), "changed").unwrap();
        assert_eq!(entries_digest(&p.entries().unwrap(), &mut cache).unwrap(), d1);
        assert_eq!(cache.reads, 1, "the second digest came from the stat cache");
        std::fs::write(ctx.path().join("keep.txt"), "K").unwrap();
        assert_ne!(entries_digest(&p.entries().unwrap(), &mut cache).unwrap(), d1);
    }

    #[test]
    fn context_symlinks_stay_inside() {
        let ctx = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("../../../../etc", ctx.path().join("up")).unwrap();
        let r = resolve_in_root(ctx.path(), "up/passwd", true);
        assert_eq!(r, ctx.path().join("etc/passwd"));
    }

    #[test]
    fn layers_are_sorted_with_clamped_times_and_archives_rerooted() {
        let ctx = tempfile::tempdir().unwrap();
        let img = tempfile::tempdir().unwrap();
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        t.append_data(&mut h, "inner/f", &b"hi"[..]).unwrap();
        std::fs::write(ctx.path().join("a.tar"), t.into_inner().unwrap()).unwrap();
        let mut s = spec(&["a.tar"], "/opt/");
        s.add = true;
        let e = plan(&s, ctx.path(), img.path(), None).entries().unwrap();
        let mut out = Vec::new();
        write_layer(&e, &mut out).unwrap();
        let mut a = tar::Archive::new(out.as_slice());
        let names: Vec<(String, u64)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().to_string_lossy().into_owned(), e.header().mtime().unwrap())
            })
            .collect();
        assert_eq!(names[0].0, "opt");
        assert!(names.iter().any(|(n, _)| n == "opt/inner/f"));
        assert!(names.iter().filter(|(n, _)| !n.contains("inner")).all(|(_, m)| *m <= 100));
    }
}
