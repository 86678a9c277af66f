//! The verification policy of a target, after merging defaults, global, job and target.

use std::time::Duration;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use super::raw::{MaxAge, RawPolicy};

/// What a run checks on one target, and how strictly.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Oldest acceptable age of the newest backup file (the RPO); `None` = not checked.
    pub max_age: Option<Duration>,
    /// At most this many files are test-restored per run...
    pub sample_files: u64,
    /// ...and at most this many bytes (the newest file is restored even if larger).
    pub sample_bytes: u64,
    /// Which files count as backup files.
    pub filter: PathFilter,
    /// Fail when the number of files dropped by more than this share since the last run.
    pub count_drop_percent: f64,
    /// Fail when the total size dropped by more than this share since the last run.
    pub size_drop_percent: f64,
    /// Warn when a new version of a file is this much smaller than the previous one.
    pub file_shrink_percent: f64,
    /// Test restores running at once; `None` lets the backend choose.
    pub concurrency: Option<usize>,
    /// Files that must never change once written (older incrementals, archived months):
    /// any change of content, size or modification time fails.
    pub immutable: Option<PathFilter>,
    /// Checksum manifests (`sha256sum`, `md5sum`, `b3sum` output) in the target.
    pub manifests: Option<PathFilter>,
    /// The verdict signs of ransomware yield; `None` when the check is off.
    pub ransomware: Option<super::OnRansomware>,
    /// Share of sampled files changed in one run that counts as a sign.
    pub ransomware_changed_percent: f64,
    /// Share of files compared with the source that may differ before it fails.
    pub source_differ_percent: f64,
    /// How long the backup software keeps files: a vanished file older than this may go
    /// quietly (unless it was the newest of its folder); `None`: every vanished file is
    /// reported.
    pub retention: Option<Duration>,
    /// Which symbolic links a local target follows.
    pub follow_symlinks: super::FollowSymlinks,
    /// restic repositories: files removed by a prune are reported, not failed.
    pub allow_prune: bool,
    /// How sampled files are restored.
    pub restore: super::RestoreMode,
}

impl Policy {
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(26 * 3600);
    pub const DEFAULT_SAMPLE_FILES: u64 = 10;
    pub const DEFAULT_SAMPLE_BYTES: u64 = 1 << 30;

    /// Builds the policy from the most specific layer first: target, job, global.
    pub fn resolve(layers: &[&RawPolicy]) -> Policy {
        let pick = |f: &dyn Fn(&RawPolicy) -> bool| layers.iter().copied().find(|l| f(l));
        let max_age = pick(&|l| l.max_age.is_some()).and_then(|l| l.max_age);
        let include = pick(&|l| l.include.is_some()).and_then(|l| l.include.clone());
        let exclude = pick(&|l| l.exclude.is_some()).and_then(|l| l.exclude.clone());
        let immutable = pick(&|l| l.immutable.is_some()).and_then(|l| l.immutable.clone());
        let manifests = pick(&|l| l.manifests.is_some()).and_then(|l| l.manifests.clone());
        let globs = |p: Option<Vec<String>>| {
            p.filter(|p| !p.is_empty()).map(|p| {
                PathFilter::new(p, Vec::new()).expect("globs were validated while parsing")
            })
        };
        let first = |get: fn(&RawPolicy) -> Option<f64>| layers.iter().find_map(|l| get(l));
        let first_u = |get: fn(&RawPolicy) -> Option<u64>| layers.iter().find_map(|l| get(l));
        Policy {
            max_age: match max_age {
                None => Some(Self::DEFAULT_MAX_AGE),
                Some(MaxAge::Off) => None,
                Some(MaxAge::Limit(d)) => Some(d),
            },
            sample_files: first_u(|l| l.sample_files).unwrap_or(Self::DEFAULT_SAMPLE_FILES),
            sample_bytes: first_u(|l| l.sample_bytes).unwrap_or(Self::DEFAULT_SAMPLE_BYTES),
            filter: PathFilter::new(include.unwrap_or_default(), exclude.unwrap_or_default())
                .expect("globs were validated while parsing"),
            count_drop_percent: first(|l| l.count_drop_percent).unwrap_or(10.0),
            size_drop_percent: first(|l| l.size_drop_percent).unwrap_or(20.0),
            file_shrink_percent: first(|l| l.file_shrink_percent).unwrap_or(50.0),
            concurrency: first_u(|l| l.concurrency).map(|n| n as usize),
            immutable: globs(immutable),
            manifests: globs(manifests),
            ransomware: match layers.iter().find_map(|l| l.ransomware) {
                None | Some(super::raw::Ransomware::Warn) => Some(super::OnRansomware::Warn),
                Some(super::raw::Ransomware::Fail) => Some(super::OnRansomware::Fail),
                Some(super::raw::Ransomware::Off) => None,
            },
            ransomware_changed_percent: first(|l| l.ransomware_changed_percent).unwrap_or(50.0),
            source_differ_percent: first(|l| l.source_differ_percent).unwrap_or(0.0),
            retention: layers.iter().find_map(|l| l.retention),
            follow_symlinks: layers
                .iter()
                .find_map(|l| l.follow_symlinks)
                .unwrap_or_default(),
            allow_prune: layers.iter().find_map(|l| l.allow_prune).unwrap_or(false),
            restore: layers.iter().find_map(|l| l.restore).unwrap_or_default(),
        }
    }
}

/// `include` / `exclude` globs. A pattern without `/` matches a file name in any folder
/// (`*.vbk`); a pattern with `/` matches the whole path from the target's root
/// (`daily/**`). An empty `include` means everything.
#[derive(Debug, Clone)]
pub struct PathFilter {
    include: Vec<String>,
    exclude: Vec<String>,
    include_set: Option<GlobSet>,
    exclude_set: GlobSet,
}

impl PathFilter {
    pub fn new(include: Vec<String>, exclude: Vec<String>) -> Result<Self, String> {
        let build = |patterns: &[String]| -> Result<GlobSet, String> {
            let mut b = GlobSetBuilder::new();
            for p in patterns {
                b.add(Self::compile(p)?);
            }
            b.build().map_err(|e| e.to_string())
        };
        Ok(PathFilter {
            include_set: if include.is_empty() {
                None
            } else {
                Some(build(&include)?)
            },
            exclude_set: build(&exclude)?,
            include,
            exclude,
        })
    }

    /// Compiles one pattern the way the filter uses it.
    pub fn compile(pattern: &str) -> Result<Glob, String> {
        let anchored = if pattern.contains('/') {
            pattern.trim_start_matches('/').to_string()
        } else {
            format!("**/{pattern}")
        };
        GlobBuilder::new(&anchored)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))
    }

    /// Does the file at `path` (relative to the target root, `/`-separated) count?
    pub fn matches(&self, path: &str) -> bool {
        if self.exclude_set.is_match(path) {
            return false;
        }
        match &self.include_set {
            Some(set) => set.is_match(path),
            None => true,
        }
    }

    pub fn include(&self) -> &[String] {
        &self.include
    }

    pub fn exclude(&self) -> &[String] {
        &self.exclude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_patterns_match_in_any_folder() {
        let f = PathFilter::new(vec!["*.vbk".into()], vec!["tmp/**".into()]).unwrap();
        assert!(f.matches("a.vbk"));
        assert!(f.matches("job/2026/a.vbk"));
        assert!(!f.matches("a.vib"));
        assert!(!f.matches("tmp/a.vbk"));
    }

    #[test]
    fn empty_include_means_all() {
        let f = PathFilter::new(vec![], vec!["*.log".into()]).unwrap();
        assert!(f.matches("x/y.bin"));
        assert!(!f.matches("x/y.log"));
    }

    #[test]
    fn most_specific_layer_wins() {
        let target = RawPolicy {
            sample_files: Some(3),
            ..Default::default()
        };
        let job = RawPolicy {
            sample_files: Some(7),
            max_age: Some(MaxAge::Off),
            ..Default::default()
        };
        let p = Policy::resolve(&[&target, &job, &RawPolicy::default()]);
        assert_eq!(p.sample_files, 3);
        assert_eq!(p.max_age, None);
        assert_eq!(p.sample_bytes, Policy::DEFAULT_SAMPLE_BYTES);
    }
}
