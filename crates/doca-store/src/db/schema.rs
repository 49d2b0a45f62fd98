//! The schema, as forward-only migrations (`PRAGMA user_version` counts those applied).

/// Forward-only migrations; index + 1 is the schema version after it runs.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE images (
    id              TEXT PRIMARY KEY,      -- config digest (docker's image id)
    manifest        TEXT NOT NULL,         -- manifest blob digest
    created         TEXT NOT NULL,         -- the config's `created`, RFC 3339, may be ''
    created_unix    INTEGER NOT NULL,
    size            INTEGER NOT NULL,      -- sum of the layers' unpacked content sizes
    labels          TEXT NOT NULL,         -- JSON object, for --filter label=
    added_unix      INTEGER NOT NULL
);
CREATE TABLE image_layers (
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    blob       TEXT NOT NULL,              -- layer blob digest as the manifest names it
    media_type TEXT NOT NULL,
    diff_id    TEXT NOT NULL,
    chain_id   TEXT NOT NULL,
    PRIMARY KEY (image_id, position)
);
CREATE INDEX image_layers_chain ON image_layers(chain_id);
CREATE INDEX image_layers_blob ON image_layers(blob);
CREATE TABLE tags (
    name       TEXT PRIMARY KEY,           -- fully qualified, e.g. docker.io/library/busybox:latest
    image_id   TEXT NOT NULL REFERENCES images(id),
    tagged_unix INTEGER NOT NULL
);
CREATE INDEX tags_image ON tags(image_id);
CREATE TABLE repo_digests (
    name       TEXT NOT NULL,              -- repository@digest, fully qualified
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (name, image_id)
);
CREATE TABLE snapshots (
    chain_id   TEXT PRIMARY KEY,
    diff_id    TEXT NOT NULL,
    size       INTEGER NOT NULL            -- bytes of file content, as docker reports layer sizes
);
"#,
    r#"
CREATE TABLE containers (
    id         TEXT PRIMARY KEY,           -- 64 hex digits
    name       TEXT NOT NULL UNIQUE,       -- without docker's leading '/'
    image_id   TEXT NOT NULL REFERENCES images(id),
    created    TEXT NOT NULL,              -- RFC 3339 with nanoseconds
    config     TEXT NOT NULL,              -- JSON: what the container was created with (the engine's type)
    state      TEXT NOT NULL               -- JSON: its lifecycle state (the engine's type)
);
CREATE INDEX containers_image ON containers(image_id);
"#,
    r#"
CREATE TABLE volumes (
    name       TEXT PRIMARY KEY,
    driver     TEXT NOT NULL,
    created    TEXT NOT NULL,              -- RFC 3339
    labels     TEXT NOT NULL,              -- JSON object
    options    TEXT NOT NULL,              -- JSON object (driver options, -o)
    anonymous  INTEGER NOT NULL            -- made for one container (VOLUME, -v /path)
);
"#,
    r#"
CREATE TABLE networks (
    id         TEXT PRIMARY KEY,           -- 64 hex digits
    name       TEXT NOT NULL UNIQUE,
    driver     TEXT NOT NULL,
    created    TEXT NOT NULL,              -- RFC 3339 with nanoseconds
    config     TEXT NOT NULL               -- JSON: subnet, gateway, bridge, options (the engine's type)
);
CREATE TABLE endpoints (
    network_id   TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    ip           TEXT NOT NULL,            -- one address per network: allocation is this row
    config       TEXT NOT NULL,            -- JSON: mac, interface names, aliases, ports (the engine's type)
    PRIMARY KEY (network_id, container_id),
    UNIQUE (network_id, ip)
);
CREATE INDEX endpoints_container ON endpoints(container_id);
"#,
    r#"
CREATE TABLE build_cache (
    key          TEXT PRIMARY KEY,         -- the builder's key of a step (hex sha256)
    image_id     TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created_unix INTEGER NOT NULL,
    used_unix    INTEGER NOT NULL
);
CREATE INDEX build_cache_image ON build_cache(image_id);
CREATE TABLE build_files (
    path       TEXT PRIMARY KEY,           -- a build context file, absolute
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    ctime_ns   INTEGER NOT NULL,
    ino        INTEGER NOT NULL,
    digest     TEXT NOT NULL               -- sha256 of its content when it had this stat
);
"#,
    r#"
-- An image `rmi -f` deleted while stopped containers still use it: gone from every name and
-- listing (docker's delete), its layers and config kept until its last container goes.
ALTER TABLE images ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
"#,
];
