//! Where librampart.so is looked for, in order (docs/cli.md CLI-PRELOAD-5):
//! `~/.rampart/lib`, `/usr/local/lib`, next to the `rampart` binary, the installed platform
//! package, then a source checkout's freshly built `target/release`. The TypeScript side knows
//! the directories only node can compute (argv, require.resolve); this module owns the order.

use std::path::{Path, PathBuf};

/// The library's file name on this platform.
pub fn library_file_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "librampart.dylib"
    } else {
        "librampart.so"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Home,
    UsrLocal,
    BesideBinary,
    PlatformPackage,
    SourceCheckout,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Home => "home",
            Origin::UsrLocal => "usr-local",
            Origin::BesideBinary => "beside-binary",
            Origin::PlatformPackage => "platform-package",
            Origin::SourceCheckout => "source-checkout",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub origin: Origin,
}

/// The directories the search path is built from.
#[derive(Debug, Clone, Default)]
pub struct SearchInputs {
    /// The user's home directory (the library goes in `<home>/.rampart/lib`).
    pub home: Option<PathBuf>,
    /// Directories of the `rampart` binary (its real directory and that directory's parent).
    pub binary_dirs: Vec<PathBuf>,
    /// The directory of the installed `@rampart/core-<platform>` package, when it resolves.
    pub platform_package_dir: Option<PathBuf>,
    /// The root of the rampart package; in a source checkout it holds `target/release`.
    pub package_root: Option<PathBuf>,
}

/// Every place the library may be, best first, without duplicates.
pub fn search_path(inputs: &SearchInputs) -> Vec<Candidate> {
    let name = library_file_name();
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut add = |path: PathBuf, origin: Origin| {
        if !candidates.iter().any(|c| c.path == path) {
            candidates.push(Candidate { path, origin });
        }
    };
    if let Some(home) = &inputs.home {
        add(home.join(".rampart").join("lib").join(name), Origin::Home);
    }
    add(Path::new("/usr/local/lib").join(name), Origin::UsrLocal);
    for dir in &inputs.binary_dirs {
        add(dir.join(name), Origin::BesideBinary);
    }
    if let Some(dir) = &inputs.platform_package_dir {
        add(dir.join(name), Origin::PlatformPackage);
    }
    if let Some(root) = &inputs.package_root {
        add(
            root.join("target").join("release").join(name),
            Origin::SourceCheckout,
        );
    }
    candidates
}

/// The first candidate not in `exclude` that is a regular file (following symlinks).
pub fn first_existing<'a>(candidates: &'a [Candidate], exclude: &[PathBuf]) -> Option<&'a Candidate> {
    candidates
        .iter()
        .filter(|c| !exclude.contains(&c.path))
        .find(|c| std::fs::metadata(&c.path).map(|m| m.is_file()).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> SearchInputs {
        SearchInputs {
            home: Some("/home/u".into()),
            binary_dirs: vec!["/opt/rampart/dist".into(), "/opt/rampart".into()],
            platform_package_dir: Some("/opt/rampart/node_modules/@rampart/core-linux-x64-gnu".into()),
            package_root: Some("/opt/rampart".into()),
        }
    }

    #[test]
    fn the_search_order_is_home_usr_local_binary_package_checkout() {
        let found: Vec<(String, &str)> = search_path(&inputs())
            .into_iter()
            .map(|c| (c.path.display().to_string(), c.origin.as_str()))
            .collect();
        let name = library_file_name();
        assert_eq!(
            found,
            vec![
                (format!("/home/u/.rampart/lib/{name}"), "home"),
                (format!("/usr/local/lib/{name}"), "usr-local"),
                (format!("/opt/rampart/dist/{name}"), "beside-binary"),
                (format!("/opt/rampart/{name}"), "beside-binary"),
                (
                    format!("/opt/rampart/node_modules/@rampart/core-linux-x64-gnu/{name}"),
                    "platform-package"
                ),
                (format!("/opt/rampart/target/release/{name}"), "source-checkout"),
            ]
        );
    }

    #[test]
    fn a_path_reached_twice_is_listed_once_under_its_first_origin() {
        let mut inputs = inputs();
        inputs.binary_dirs = vec!["/usr/local/lib".into()];
        let candidates = search_path(&inputs);
        assert_eq!(
            candidates
                .iter()
                .filter(|c| c.path.starts_with("/usr/local/lib"))
                .count(),
            1
        );
        assert_eq!(candidates[1].origin, Origin::UsrLocal);
    }

    #[test]
    fn without_inputs_only_usr_local_is_searched() {
        let candidates = search_path(&SearchInputs::default());
        assert_eq!(candidates.len(), 1);
        assert_eq!(candidates[0].origin, Origin::UsrLocal);
    }

    #[test]
    fn the_first_regular_file_wins_and_directories_do_not_count() {
        let dir = std::env::temp_dir().join(format!("rampart-locate-{}", std::process::id()));
        let name = library_file_name();
        std::fs::create_dir_all(dir.join("a").join(name)).unwrap(); // a directory named like the library
        std::fs::create_dir_all(dir.join("b")).unwrap();
        std::fs::write(dir.join("b").join(name), b"x").unwrap();
        let candidates: Vec<Candidate> = ["missing", "a", "b"]
            .iter()
            .map(|sub| Candidate {
                path: dir.join(sub).join(name),
                origin: Origin::BesideBinary,
            })
            .collect();
        let found = first_existing(&candidates, &[]).map(|c| c.path.clone());
        let skipping_b = first_existing(&candidates, &[dir.join("b").join(name)]).map(|c| c.path.clone());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found, Some(dir.join("b").join(name)));
        assert_eq!(skipping_b, None);
    }
}
