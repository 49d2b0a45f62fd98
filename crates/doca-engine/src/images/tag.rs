//! `doca tag SOURCE TARGET`

use crate::{Engine, EngineError};
use doca_image::Reference;

pub(crate) fn parse_target(target: &str) -> Result<Reference, EngineError> {
    let r = Reference::parse_tagged(target).map_err(|source| EngineError::BadReference { input: target.to_string(), source })?;
    if r.digest().is_some() {
        return Err(EngineError::TagWithDigest);
    }
    Ok(r)
}

impl Engine {
    pub fn tag_image(&mut self, source: &str, target: &str) -> Result<(), EngineError> {
        let target = parse_target(target)?;
        let img = self.resolve_image(source)?.image;
        let now = crate::now().unix_timestamp();
        self.store.db.write(|tx| tx.set_tag(&target.to_string(), &img.id, now).map(|_| ()))?;
        self.emit("image", "tag", img.id.as_str(), &[("name", &target.familiar())]);
        Ok(())
    }
}
