//! Reads `exports.txt`, the table of everything librampart.so exports. Included with `#[path]` by
//! this crate's build.rs and by crates/native/build.rs, so both read the table the same way.

/// What a row is; decides where it is defined, whether a real function is resolved for it, and
/// how the tests call it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Exec,
    Spawn,
    Shell,
    Variadic,
    Data,
}

impl Kind {
    fn parse(word: &str) -> Option<Kind> {
        Some(match word {
            "exec" => Kind::Exec,
            "spawn" => Kind::Spawn,
            "shell" => Kind::Shell,
            "variadic" => Kind::Variadic,
            "data" => Kind::Data,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Exec => "exec",
            Kind::Spawn => "spawn",
            Kind::Shell => "shell",
            Kind::Variadic => "variadic",
            Kind::Data => "data",
        }
    }

    /// A redhook `hook!` in src/hooks.rs, whose real function is resolved at load.
    pub fn is_rust_hook(self) -> bool {
        matches!(self, Kind::Exec | Kind::Spawn | Kind::Shell)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row<'a> {
    pub symbol: &'a str,
    pub kind: Kind,
    /// Only newer libcs have it (the note says which version added it).
    pub optional: bool,
    /// The row's trailing `#` comment, trimmed.
    pub note: &'a str,
}

/// Every row of the table, in file order, or the first mistake with its line number.
pub fn parse(text: &str) -> Result<Vec<Row<'_>>, String> {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let at = |what: String| format!("exports.txt line {}: {what}", index + 1);
        let (fields, note) = match line.split_once('#') {
            Some((fields, note)) => (fields, note.trim()),
            None => (line, ""),
        };
        let words: Vec<&str> = fields.split_whitespace().collect();
        let (symbol, kind, availability) = match words.as_slice() {
            [] => continue,
            [symbol, kind, availability] => (*symbol, *kind, *availability),
            _ => return Err(at("expected `symbol kind availability`".into())),
        };
        let is_identifier = symbol.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && symbol.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_identifier {
            return Err(at(format!("{symbol:?} is not a C identifier")));
        }
        let kind = Kind::parse(kind).ok_or_else(|| {
            at(format!(
                "kind {kind:?} is not one of exec, spawn, shell, variadic, data"
            ))
        })?;
        let optional = match availability {
            "required" => false,
            "optional" => true,
            other => return Err(at(format!("availability {other:?} is not required or optional"))),
        };
        if optional && !kind.is_rust_hook() {
            return Err(at(format!(
                "only exec, spawn and shell rows can be optional, not {}",
                kind.as_str()
            )));
        }
        if optional && note.is_empty() {
            return Err(at(format!(
                "optional {symbol} needs a comment saying which libc version added it"
            )));
        }
        if rows.iter().any(|row| row.symbol == symbol) {
            return Err(at(format!("{symbol} is listed twice")));
        }
        rows.push(Row {
            symbol,
            kind,
            optional,
            note,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::{Kind, parse};

    #[test]
    fn the_table_parses_and_has_the_hooks_and_the_version_symbol() {
        let text = include_str!("exports.txt");
        let rows = parse(text);
        assert!(rows.is_ok(), "{rows:?}");
        let rows = rows.unwrap_or_default();
        let find = |symbol: &str| {
            rows.iter()
                .find(|row| row.symbol == symbol)
                .map(|row| (row.kind, row.optional))
        };
        assert_eq!(find("execve"), Some((Kind::Exec, false)));
        assert_eq!(find("execl"), Some((Kind::Variadic, false)));
        assert_eq!(find("execveat"), Some((Kind::Exec, true)));
        assert_eq!(find("popen"), Some((Kind::Shell, false)));
        assert_eq!(find("rampart_preload_version"), Some((Kind::Data, false)));
    }

    #[test]
    fn a_row_has_a_symbol_a_kind_an_availability_and_a_note() {
        let rows = parse("# comment\n\n  foo  exec  optional  # glibc 9.9 \nbar data required\n");
        let rows: Result<Vec<_>, _> = rows.map(|rows| {
            rows.into_iter()
                .map(|row| (row.symbol, row.kind, row.optional, row.note))
                .collect()
        });
        assert_eq!(
            rows,
            Ok(vec![
                ("foo", Kind::Exec, true, "glibc 9.9"),
                ("bar", Kind::Data, false, "")
            ])
        );
    }

    #[test]
    fn mistakes_name_their_line() {
        for (text, error) in [
            (
                "execve exec",
                "exports.txt line 1: expected `symbol kind availability`",
            ),
            (
                "\nexecve exec required extra",
                "exports.txt line 2: expected `symbol kind availability`",
            ),
            (
                "exec-ve exec required",
                "exports.txt line 1: \"exec-ve\" is not a C identifier",
            ),
            (
                "execve exe required",
                "exports.txt line 1: kind \"exe\" is not one of exec, spawn, shell, variadic, data",
            ),
            (
                "execve exec maybe",
                "exports.txt line 1: availability \"maybe\" is not required or optional",
            ),
            (
                "execl variadic optional # 2.0",
                "exports.txt line 1: only exec, spawn and shell rows can be optional, not variadic",
            ),
            (
                "execveat exec optional",
                "exports.txt line 1: optional execveat needs a comment saying which libc version added it",
            ),
            (
                "a exec required\na spawn required",
                "exports.txt line 2: a is listed twice",
            ),
        ] {
            assert_eq!(
                parse(text).map(|rows| rows.len()),
                Err(error.to_string()),
                "{text:?}"
            );
        }
    }
}
