//! Reading a configuration file so that one mistake does not hide the next: every unknown
//! key is reported, with "did you mean `sample_files`?" when a known key is close, and so
//! is every value of the wrong type; each is left out, so that what remains is still
//! checked in the same pass.

use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, Deserializer};

use super::error::ConfigError;

/// At most this many unknown keys are reported per file.
const MAX_UNKNOWN: usize = 50;

/// Parses `source` into `T`. Unknown keys and bad values are each reported in `errors`
/// and left out; `None` when what is left cannot be read (a syntax error, a required key
/// missing), reported too unless it is a key already reported.
pub(super) fn parse<T: DeserializeOwned>(
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    let mut root = match DeTable::parse(source) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::from_toml(file, source, &e));
            return None;
        }
    };
    // Keys already reported: their absence is not told again.
    let mut told = Vec::new();
    for _ in 0..MAX_UNKNOWN {
        let e = match T::deserialize(Deserializer::from(root.clone())) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let mut err = ConfigError::from_toml(file, source, &e);
        let message = e.message().to_string();
        if let Some(missing) = quoted_after(&message, "missing field `") {
            if !told.contains(&missing) {
                errors.push(err);
            }
            return None;
        }
        if let Some(unknown) = quoted_after(&message, "unknown field `")
            && let Some(close) = closest(&unknown, &expected(&message))
        {
            err.message = format!("unknown key `{unknown}`: did you mean `{close}`?");
            told.push(close);
        }
        if let Some(key) = err.key.as_deref() {
            told.push(key.rsplit('.').next().unwrap_or(key).to_string());
        }
        errors.push(err);
        let removed = e
            .span()
            .is_some_and(|span| remove_key(root.get_mut(), &span));
        if !removed {
            return None;
        }
    }
    None
}

/// The text between `start` and the next backquote.
fn quoted_after(message: &str, start: &str) -> Option<String> {
    let rest = &message[message.find(start)? + start.len()..];
    Some(rest[..rest.find('`')?].to_string())
}

/// The names serde lists after "expected": `expected one of `a`, `b``.
fn expected(message: &str) -> Vec<String> {
    let Some(at) = message.find("expected") else {
        return Vec::new();
    };
    message[at..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The known key closest to `name`, if it is close enough to be a typo of it.
pub(super) fn closest(name: &str, known: &[String]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, k)| *score >= 0.85 || strsim::damerau_levenshtein(name, k) <= 2)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.clone())
}

/// Removes the entry whose key is at `span` (an unknown key), else the innermost one whose
/// value holds `span` (a bad value), wherever it is; `true` if one was removed.
fn remove_key(table: &mut DeTable<'_>, span: &Range<usize>) -> bool {
    remove_where(table, &|k, _| k == *span) || remove_where(table, &|_, v| holds(&v, span))
}

fn holds(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer != &(0..0)
}

/// Removes the innermost entry for which `hit(key span, value span)` holds.
fn remove_where(table: &mut DeTable<'_>, hit: &dyn Fn(Range<usize>, Range<usize>) -> bool) -> bool {
    for (_, v) in table.iter_mut() {
        let nested = match v.get_mut() {
            DeValue::Table(t) => remove_where(t, hit),
            DeValue::Array(a) => a.iter_mut().any(|item| match item.get_mut() {
                DeValue::Table(t) => remove_where(t, hit),
                _ => false,
            }),
            _ => false,
        };
        if nested {
            return true;
        }
    }
    let found = table
        .iter()
        .find(|(k, v)| hit(k.span(), v.span()))
        .map(|(k, _)| k.clone());
    found.is_some_and(|key| table.remove(&key).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fields only serde reads: their presence is what is tested.
    #[allow(dead_code)]
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Policy {
        sample_files: Option<u64>,
        max_age: Option<String>,
    }

    #[allow(dead_code)]
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Job {
        client: String,
        #[serde(default)]
        policy: Option<Policy>,
        #[serde(default)]
        targets: Vec<Policy>,
    }

    fn errors(text: &str) -> (Option<Job>, Vec<String>) {
        let mut errors = Vec::new();
        let job = parse::<Job>(Path::new("/j.toml"), text, &mut errors);
        (job, errors.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn every_unknown_key_is_told_with_the_key_it_is_close_to() {
        let (job, errs) = errors(
            "client = \"A\"\ncolour = 1\n[policy]\nsampel_files = 5\n[[targets]]\nmax_aeg = \"1d\"\n",
        );
        assert_eq!(
            errs,
            [
                "/j.toml:2: key `colour`: unknown field `colour`, expected one of `client`, `policy`, `targets`",
                "/j.toml:4: key `policy.sampel_files`: unknown key `sampel_files`: did you mean `sample_files`?",
                "/j.toml:6: key `targets[1].max_aeg`: unknown key `max_aeg`: did you mean `max_age`?",
            ]
        );
        // What remains is read, so its values are still checked.
        assert_eq!(job.unwrap().client, "A");
    }

    #[test]
    fn a_value_of_the_wrong_type_does_not_hide_the_keys_after_it() {
        let (job, errs) = errors("client = \"A\"\n[policy]\nmax_age = 3\nsampel_files = 5\n");
        assert!(job.is_some());
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("/j.toml:3: key `policy.max_age`: invalid type"),
            "{errs:?}"
        );
        assert!(errs[1].contains("did you mean `sample_files`?"), "{errs:?}");
        // A required key of the wrong type is told once, not again as missing.
        let (job, errs) = errors("client = 3\n");
        assert!(job.is_none());
        assert_eq!(errs.len(), 1, "{errs:?}");
    }

    #[test]
    fn a_misspelt_required_key_is_told_once() {
        let (job, errs) = errors("clinet = \"A\"\n");
        assert!(job.is_none());
        assert_eq!(
            errs,
            ["/j.toml:1: key `clinet`: unknown key `clinet`: did you mean `client`?"]
        );
    }
}
