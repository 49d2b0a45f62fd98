//! docker's prune filters, the same for every kind that takes them: `until=` (only what was
//! created before: an RFC 3339 time, a date, unix seconds, or a Go duration back from now),
//! `label=KEY[=VALUE]` (only what has every such label) and `label!=KEY[=VALUE]` (only what has
//! none of them). docker's daemon: daemon/prune.go, api/types/filters.

use crate::EngineError;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PruneFilters {
    /// Unix nanoseconds.
    pub until: Option<i128>,
    pub label: Vec<(String, Option<String>)>,
    pub not_label: Vec<(String, Option<String>)>,
}

impl PruneFilters {
    /// `--filter` values as the user gave them; `now_nanos` anchors durations.
    pub fn parse(args: &[String], now_nanos: i128) -> Result<PruneFilters, EngineError> {
        let mut f = PruneFilters::default();
        for a in args {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| EngineError::InvalidArgument(format!("bad format of filter (expected name=value): {a}")))?;
            let label = |v: &str| match v.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (v.to_string(), None),
            };
            // `label!=x` splits at its '=' into key "label!".
            match k {
                "until" => f.until = Some(crate::containers::logs::parse_time(v, now_nanos)?),
                "label" => f.label.push(label(v)),
                "label!" => f.not_label.push(label(v)),
                _ => return Err(EngineError::InvalidFilter(k.to_string())),
            }
        }
        Ok(f)
    }

    /// `parse` against the current time.
    pub fn from_args(args: &[String]) -> Result<PruneFilters, EngineError> {
        PruneFilters::parse(args, time::OffsetDateTime::now_utc().unix_timestamp_nanos())
    }

    /// Whether an object created at `created` (RFC 3339; unparsable counts as unknown, which
    /// `until` keeps) with `labels` is one the filters let go.
    pub fn allows(&self, created: &str, labels: &BTreeMap<String, String>) -> bool {
        if let Some(until) = self.until {
            let t = time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).map(|t| t.unix_timestamp_nanos());
            if !t.is_ok_and(|t| t < until) {
                return false;
            }
        }
        let has = |(k, v): &(String, Option<String>)| labels.get(k).is_some_and(|x| v.as_ref().is_none_or(|v| v == x));
        self.label.iter().all(has) && !self.not_label.iter().any(has)
    }

    /// docker's refusal where `until` does not apply (volume prune: "invalid filter 'until'").
    pub fn refuse_until(&self) -> Result<(), EngineError> {
        match self.until {
            Some(_) => Err(EngineError::InvalidFilter("until".into())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_match_as_dockers() {
        let now = 1_700_000_000i128 * 1_000_000_000;
        let f = PruneFilters::parse(&["until=1h".into(), "label=team".into(), "label!=keep=yes".into()], now).unwrap();
        assert_eq!(f.until, Some(now - 3600 * 1_000_000_000));
        let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let old = "2023-11-14T20:00:00Z"; // 1699992000: more than an hour before `now`
        let new = "2023-11-14T22:10:00Z";
        assert!(f.allows(old, &labels(&[("team", "a")])));
        assert!(!f.allows(new, &labels(&[("team", "a")])), "created after until");
        assert!(!f.allows(old, &labels(&[])), "label missing");
        assert!(!f.allows(old, &labels(&[("team", "a"), ("keep", "yes")])), "label! matches");
        assert!(f.allows(old, &labels(&[("team", "a"), ("keep", "no")])));
        assert!(!f.allows("", &labels(&[("team", "a")])), "unknown creation time is kept");
        assert!(matches!(PruneFilters::parse(&["dangling=true".into()], now), Err(EngineError::InvalidFilter(_))));
        assert!(PruneFilters::parse(&["label=a=b".into()], now).unwrap().allows("", &labels(&[("a", "b")])));
    }
}
