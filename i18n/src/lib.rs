//! Words in the person's language, shared by the app and the CLI: the gettext set-up both run at
//! start, and [`fill`], which puts values into a translated template's named placeholders
//! (`{snap}`), so a translator can move them where the language wants them.
//!
//! A crate of its own, with gettext as its only dependency: the app and the CLI share nothing
//! else that is not the D-Bus contract, and `snapshelf-dbus` should not learn about locales.

use std::fmt::Display;
use std::path::PathBuf;

/// The gettext domain of every Snapshelf program.
pub const DOMAIN: &str = "snapshelf";

/// Where the compiled catalogues are: `SNAPSHELF_LOCALEDIR` (tests, the demo) or the system's.
pub fn locale_dir() -> PathBuf {
    std::env::var_os("SNAPSHELF_LOCALEDIR")
        .unwrap_or_else(|| "/usr/share/locale".into())
        .into()
}

/// Words in the person's language from here on. A missing catalogue is not an error: gettext
/// then answers with the English of the sources.
pub fn init_locale() {
    let _ = gettextrs::setlocale(gettextrs::LocaleCategory::LcAll, "");
    let _ = gettextrs::bindtextdomain(DOMAIN, locale_dir());
    let _ = gettextrs::bind_textdomain_codeset(DOMAIN, "UTF-8");
    let _ = gettextrs::textdomain(DOMAIN);
}

/// The person's language for words others write for them (the helper's summaries and errors,
/// through its `SetLocale`): the first of `LANGUAGE`'s list, as gettext prefers it, unless the
/// locale is plain C; else the messages locale (`LC_ALL`, `LC_MESSAGES`, `LANG`). `None`: no
/// locale is set, the other side's default applies.
pub fn messages_locale() -> Option<String> {
    locale_from(|k| std::env::var(k).ok())
}

/// [`messages_locale`] over any environment (`var` reads one variable).
fn locale_from(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let var = |k: &str| var(k).filter(|v| !v.is_empty());
    let locale = var("LC_ALL")
        .or_else(|| var("LC_MESSAGES"))
        .or_else(|| var("LANG"));
    // gettext ignores LANGUAGE in the C locale; C.UTF-8 is not that.
    let plain_c = matches!(locale.as_deref(), None | Some("C" | "POSIX"));
    let first =
        var("LANGUAGE").and_then(|l| l.split(':').find(|s| !s.is_empty()).map(str::to_string));
    match first {
        Some(l) if !plain_c => Some(l),
        _ => locale,
    }
}

/// The named placeholders of a template, in order: `{name}` where the name is lower-case ASCII
/// letters, digits or `_`. Other braces (`{}`, `{ x }`) are plain text.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(len) = placeholder_len(rest) {
            out.push(&rest[..len]);
            rest = &rest[len + 1..];
        }
    }
    out
}

/// The length of the name if `s` (just after a `{`) starts `name}`.
fn placeholder_len(s: &str) -> Option<usize> {
    let len = s
        .bytes()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        .count();
    (len > 0 && s.as_bytes().get(len) == Some(&b'}')).then_some(len)
}

/// Fill a (translated) template's placeholders with `values`, in one pass: a value that itself
/// contains `{name}` (a snap's summary, a path) is left as it is.
///
/// Every placeholder of the template must have a value: one without is left in the text, and in
/// debug builds (tests) it is a panic, so a call that forgets one, or a translation that invents
/// one, is found before a person reads `{channel}`. A value the template does not use is allowed:
/// a translation may leave out what its language does not need (the `{n}` of "one app").
#[track_caller]
pub fn fill(template: &str, values: &[(&str, &dyn Display)]) -> String {
    let mut out = String::with_capacity(template.len() + 16 * values.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        rest = &rest[open + 1..];
        let Some(len) = placeholder_len(rest) else {
            out.push('{');
            continue;
        };
        let name = &rest[..len];
        match values.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => out.push_str(&v.to_string()),
            None => {
                debug_assert!(false, "no value for {{{name}}} in {template:?}");
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = &rest[len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_placeholder_wherever_the_translation_puts_it() {
        assert_eq!(
            fill(
                "{title} goes back to {revision}.",
                &[("revision", &"revision 2"), ("title", &"Clock")]
            ),
            "Clock goes back to revision 2."
        );
        // The translation moved and repeated them.
        assert_eq!(
            fill("{n} {n} – {size}", &[("size", &"3 MB"), ("n", &2)]),
            "2 2 – 3 MB"
        );
        // Not placeholders: kept as they are.
        assert_eq!(fill("{} { x } {X} {", &[]), "{} { x } {X} {");
        assert_eq!(fill("", &[("unused", &1)]), "");
    }

    #[test]
    fn values_are_not_filled_again() {
        assert_eq!(
            fill("{a}/{b}", &[("a", &"{b}"), ("b", &"x")]),
            "{b}/x",
            "one pass: a value's own braces are its text"
        );
    }

    #[test]
    fn a_translation_may_leave_a_value_out() {
        assert_eq!(
            fill("one app, {size}", &[("n", &1), ("size", &"1 MB")]),
            "one app, 1 MB"
        );
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "no value for {channel}"))]
    fn a_placeholder_without_a_value_is_caught() {
        // Release builds keep the placeholder rather than stop: a person sees it, nothing breaks.
        assert_eq!(fill("Switch to {channel}", &[]), "Switch to {channel}");
    }

    #[test]
    fn the_locale_for_the_helper_is_the_one_gettext_would_use() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(locale_from(env(&[])), None);
        assert_eq!(
            locale_from(env(&[("LANG", "fr_FR.UTF-8")])).as_deref(),
            Some("fr_FR.UTF-8")
        );
        assert_eq!(
            locale_from(env(&[("LANG", "fr_FR.UTF-8"), ("LC_MESSAGES", "es_ES")])).as_deref(),
            Some("es_ES")
        );
        assert_eq!(
            locale_from(env(&[("LC_ALL", "de_AT"), ("LC_MESSAGES", "es_ES")])).as_deref(),
            Some("de_AT")
        );
        // LANGUAGE first, as the tests and the demo set it (LANG=C.UTF-8 LANGUAGE=de).
        assert_eq!(
            locale_from(env(&[("LANG", "C.UTF-8"), ("LANGUAGE", ":de:en")])).as_deref(),
            Some("de")
        );
        // Not in the plain C locale, where gettext does not read it either.
        assert_eq!(
            locale_from(env(&[("LANG", "C"), ("LANGUAGE", "de")])).as_deref(),
            Some("C")
        );
        assert_eq!(locale_from(env(&[("LANGUAGE", "de")])), None);
        assert_eq!(
            locale_from(env(&[("LC_ALL", ""), ("LANG", "es")])).as_deref(),
            Some("es")
        );
    }

    #[test]
    fn placeholders_are_named_lower_case_words() {
        assert_eq!(placeholders("{a} {} {b_2}{c} {D} {e"), ["a", "b_2", "c"]);
    }

    /// Each translation uses only the placeholders of its English: the code fills those, so any
    /// other would be shown to people as it is.
    #[test]
    fn translations_use_only_the_placeholders_of_their_english() {
        let po = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../po");
        let linguas = std::fs::read_to_string(po.join("LINGUAS")).expect("po/LINGUAS");
        let mut checked = 0;
        for lang in linguas.split_whitespace() {
            let path = po.join(format!("{lang}.po"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            for entry in catalogue(&text) {
                let english: Vec<&str> = entry.ids.iter().flat_map(|s| placeholders(s)).collect();
                for translated in &entry.strs {
                    for p in placeholders(translated) {
                        assert!(
                            english.contains(&p),
                            "{}: {{{p}}} in {translated:?} is not in {:?}",
                            path.display(),
                            entry.ids
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(
            checked > 50,
            "only {checked} placeholders found: is the parser right?"
        );
    }

    struct Entry {
        ids: Vec<String>,
        strs: Vec<String>,
    }

    /// The entries of a `.po` file: `msgid`, `msgid_plural`, `msgstr` and `msgstr[n]`, each a
    /// quoted string possibly continued on the lines after it. Enough for our own catalogues.
    fn catalogue(text: &str) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut current: Option<&mut String> = None;
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') || line.is_empty() {
                current = None;
                continue;
            }
            let (keyword, quoted) = match line.split_once(' ') {
                Some((k, q)) if k.starts_with("msg") => (Some(k), q),
                _ => (None, line),
            };
            let value = unquote(quoted);
            match keyword {
                Some("msgid") => {
                    entries.push(Entry {
                        ids: vec![value],
                        strs: Vec::new(),
                    });
                    current = entries.last_mut().and_then(|e| e.ids.last_mut());
                }
                Some("msgid_plural") => {
                    let e = entries.last_mut().expect("msgid_plural after msgid");
                    e.ids.push(value);
                    current = e.ids.last_mut();
                }
                Some(k) if k.starts_with("msgstr") => {
                    let e = entries.last_mut().expect("msgstr after msgid");
                    e.strs.push(value);
                    current = e.strs.last_mut();
                }
                _ => {
                    if let Some(s) = current.as_deref_mut() {
                        s.push_str(&value);
                    }
                }
            }
        }
        entries
    }

    fn unquote(s: &str) -> String {
        let s = s.trim();
        let s = s
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(s);
        s.replace("\\\"", "\"").replace("\\n", "\n")
    }
}
