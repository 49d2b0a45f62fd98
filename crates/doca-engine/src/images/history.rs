//! `doca history`: the config's history, newest first, with each non-empty entry matched to
//! its layer's size (as docker's daemon/images/image_history.go does).

use crate::{Engine, EngineError};

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The image id on the newest entry; docker prints `<missing>` for the others.
    pub id: Option<String>,
    pub created_unix: i64,
    pub created_by: String,
    pub size: i64,
    pub comment: String,
    pub tags: Vec<String>,
}

impl Engine {
    pub fn image_history(&mut self, name: &str) -> Result<Vec<HistoryEntry>, EngineError> {
        let img = self.resolve_image(name)?.image;
        let cfg = self.image_config(&img.id)?;
        let tags = self.familiar_tags(&img.id)?;
        let layers = self.store.db.read(|tx| tx.layers(&img.id))?;
        let mut sizes = Vec::new();
        for l in &layers {
            sizes.push(self.store.db.read(|tx| tx.snapshot(&l.chain_id))?.map(|s| s.size).unwrap_or(0));
        }
        let mut out = Vec::new();
        let mut layer = 0;
        for h in &cfg.history {
            let size = if h.empty_layer {
                0
            } else {
                layer += 1;
                sizes.get(layer - 1).copied().unwrap_or(0)
            };
            out.push(HistoryEntry {
                id: None,
                created_unix: h.created.as_deref().and_then(doca_image::config::parse_rfc3339).unwrap_or(0),
                created_by: h.created_by.clone().unwrap_or_default(),
                size,
                comment: h.comment.clone().unwrap_or_default(),
                tags: Vec::new(),
            });
        }
        if out.is_empty() {
            // No history recorded: one entry per layer, as docker shows it.
            for s in &sizes {
                out.push(HistoryEntry {
                    id: None,
                    created_unix: img.created_unix,
                    created_by: String::new(),
                    size: *s,
                    comment: String::new(),
                    tags: Vec::new(),
                });
            }
        }
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = Some(img.id.to_string());
            top.tags = tags;
        }
        Ok(out)
    }
}
