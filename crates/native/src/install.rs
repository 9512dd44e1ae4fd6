//! Installs librampart.so atomically: every process that preloads it at the same moment sees
//! either the old file or the new one, never a half-written one. The new bytes go to a temporary
//! file beside the target, are fsynced and made 0755, then renamed over it; the directory is
//! fsynced so the rename survives a crash.

use std::cmp::Ordering;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::elf::{self, io_reason};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Where the library now is.
    pub path: PathBuf,
    /// The version of the installed library.
    pub version: String,
    /// The version of the library that was there before, if there was one with a version.
    pub replaced_version: Option<String>,
    /// True when the same bytes were already installed (nothing was written).
    pub unchanged: bool,
}

/// Installs the library `source` into `dir` (created 0755 when missing) under `file_name`.
///
/// The source must be a valid library for this host. Without `force`, a source whose version is
/// not `expected_version`, or an installed library with a newer version, is refused.
pub fn install(
    source: &Path,
    dir: &Path,
    file_name: &str,
    expected_version: &str,
    force: bool,
) -> Result<Installed, String> {
    let report = elf::verify_library(source, expected_version);
    let version_mismatch_only = report.version.is_some()
        && report.problems.len() == 1
        && report.version.as_deref() != Some(expected_version);
    let usable = report.ok() || (force && version_mismatch_only);
    if !usable {
        return Err(format!(
            "{} is not a usable library: {}{}",
            source.display(),
            report.problems.join(" "),
            if version_mismatch_only {
                " Use --force to install it anyway."
            } else {
                ""
            }
        ));
    }
    let version = report.version.unwrap_or_default();
    let target = dir.join(file_name);

    let existing = fs::metadata(&target).ok();
    if existing.as_ref().is_some_and(|m| m.is_dir()) {
        return Err(format!("{} is a directory; remove it first.", target.display()));
    }
    let replaced_version = existing.as_ref().and_then(|_| elf::library_version(&target));
    if let Some(installed) = &replaced_version
        && !force
        && compare_versions(installed, &version) == Some(Ordering::Greater)
    {
        return Err(format!(
            "{} is version {installed}, newer than {version} from {}; refusing to downgrade it \
             (use --force to replace it anyway).",
            target.display(),
            source.display()
        ));
    }

    let bytes =
        fs::read(source).map_err(|e| format!("Cannot read {}: {}.", source.display(), io_reason(&e)))?;
    if existing.is_some() && fs::read(&target).is_ok_and(|old| old == bytes) {
        return Ok(Installed {
            path: target,
            version,
            replaced_version,
            unchanged: true,
        });
    }

    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| format!("Cannot create {}: {}.", dir.display(), io_reason(&e)))?;
    write_atomically(&target, &bytes)?;
    Ok(Installed {
        path: target,
        version,
        replaced_version,
        unchanged: false,
    })
}

/// Writes `bytes` to `target` through a temporary file in the same directory and a rename.
fn write_atomically(target: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let temp = dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o755)
            .open(&temp)
            .map_err(|e| format!("Cannot create {}: {}.", temp.display(), io_reason(&e)))?;
        let fail = |e: std::io::Error| format!("Cannot write {}: {}.", temp.display(), io_reason(&e));
        file.write_all(bytes).map_err(fail)?;
        // The umask may have narrowed the mode given at creation.
        file.set_permissions(fs::Permissions::from_mode(0o755))
            .map_err(fail)?;
        file.sync_all().map_err(fail)?;
        fs::rename(&temp, target).map_err(|e| {
            format!(
                "Cannot move {} to {}: {}.",
                temp.display(),
                target.display(),
                io_reason(&e)
            )
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("Cannot sync {}: {}.", dir.display(), io_reason(&e)))
}

/// Compares two semantic versions (`MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`); `None` when either
/// does not parse. A pre-release sorts before its release; build metadata is ignored.
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let (a_core, a_pre) = parse_version(a)?;
    let (b_core, b_pre) = parse_version(b)?;
    Some(
        a_core
            .cmp(&b_core)
            .then_with(|| match (a_pre.is_empty(), b_pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&a_pre, &b_pre),
            }),
    )
}

fn parse_version(text: &str) -> Option<([u64; 3], Vec<&str>)> {
    let text = text.strip_prefix('v').unwrap_or(text);
    let text = text.split('+').next()?;
    let (core, pre) = match text.split_once('-') {
        Some((core, pre)) => (core, pre.split('.').collect()),
        None => (text, vec![]),
    };
    let mut numbers = core.split('.').map(|n| n.parse::<u64>().ok());
    let parsed = [numbers.next()??, numbers.next()??, numbers.next()??];
    if numbers.next().is_some() || pre.iter().any(|p: &&str| p.is_empty()) {
        return None;
    }
    Some((parsed, pre))
}

/// Semver §11: numeric identifiers compare numerically and sort before alphanumeric ones.
fn compare_prerelease(a: &[&str], b: &[&str]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_semver_rules() {
        use Ordering::*;
        let cases = [
            ("0.1.0", "0.1.0", Some(Equal)),
            ("0.2.0", "0.1.9", Some(Greater)),
            ("0.10.0", "0.9.0", Some(Greater)),
            ("1.0.0", "0.99.99", Some(Greater)),
            ("1.0.0-alpha", "1.0.0", Some(Less)),
            ("1.0.0-alpha.2", "1.0.0-alpha.10", Some(Less)),
            ("1.0.0-alpha.1", "1.0.0-alpha", Some(Greater)),
            ("1.0.0-1", "1.0.0-alpha", Some(Less)),
            ("1.0.0+build.5", "1.0.0", Some(Equal)),
            ("v0.1.0", "0.1.0", Some(Equal)),
            ("0.1", "0.1.0", None),
            ("0.1.0.0", "0.1.0", None),
            ("x.y.z", "0.1.0", None),
            ("1.0.0-", "1.0.0", None),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare_versions(a, b), expected, "{a} vs {b}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_library_is_refused_before_anything_is_written() {
        let dir = std::env::temp_dir().join(format!("rampart-install-{}", std::process::id()));
        let error = install(Path::new("/bin/true"), &dir, "librampart.so", "0.1.0", true).unwrap_err();
        assert!(error.starts_with("/bin/true is not a usable library:"), "{error}");
        assert!(!error.contains("--force"), "{error}");
        assert!(
            !dir.exists(),
            "the target directory must not be created for a refused install"
        );
    }

    #[test]
    fn atomic_write_leaves_only_the_target_with_mode_0755() {
        let dir = std::env::temp_dir().join(format!("rampart-write-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("librampart.so");
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&target, b"new bytes").unwrap();
        let listing: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let content = fs::read(&target).unwrap();
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o7777;
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(listing, vec![std::ffi::OsString::from("librampart.so")]);
        assert_eq!(content, b"new bytes");
        assert_eq!(mode, 0o755);
    }
}
