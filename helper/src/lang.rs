//! The language of the words the helper writes for people (change and task summaries, progress
//! labels, permission labels, error messages): the caller's, not the service's.
//!
//! A system service has one process locale, and libc's gettext follows it (or a thread's
//! `uselocale`, which needs each locale generated on the machine). So the helper reads the
//! project's compiled catalogues itself with the pure-Rust `gettext` crate and picks the catalogue
//! per call: the D-Bus edge runs each method inside [`scope`] with the caller's [`Lang`] (see
//! `bus/locale.rs`), a change's run keeps the language of the call that started it, and blocking
//! work carries it over with [`Lang::enter`]. Outside any scope the service's own locale applies.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

/// The gettext domain of every Snapshelf program.
const DOMAIN: &str = "snapshelf";

/// Longer than any locale name (`sr_RS.UTF-8@latin` is 17): refused, not looked up.
pub const MAX_LOCALE: usize = 64;

tokio::task_local! {
    static CURRENT: Lang;
}

/// One language: the locale as the caller gave it, and its catalogue (none: English, the msgids).
#[derive(Clone, Default)]
pub struct Lang {
    locale: String,
    catalog: Option<Arc<gettext::Catalog>>,
}

impl std::fmt::Debug for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Lang({:?}, catalogue: {})",
            self.locale,
            self.catalog.is_some()
        )
    }
}

struct Catalogs {
    dir: PathBuf,
    /// Each looked-up name's catalogue (or its absence), read once: a handful of languages at most.
    loaded: Mutex<HashMap<String, Option<Arc<gettext::Catalog>>>>,
    default: Lang,
}

static CATALOGS: OnceLock<Catalogs> = OnceLock::new();

/// Where the catalogues are (`<dir>/<lang>/LC_MESSAGES/snapshelf.mo`) and the service's own
/// language, from its environment (`LANGUAGE`, then `LC_ALL`, `LC_MESSAGES`, `LANG`), for words
/// said outside a call and to callers that never said theirs. Called once at start; later calls change nothing.
pub fn init(dir: &Path) {
    let env = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    let catalogs = Catalogs {
        dir: dir.to_path_buf(),
        loaded: Mutex::default(),
        default: Lang::default(),
    };
    // GNU gettext's order: `LANGUAGE`'s list first (unless the locale is plain C), then the locale.
    let plain_c = matches!(env.as_str(), "C" | "POSIX");
    let listed = std::env::var("LANGUAGE")
        .ok()
        .filter(|_| !plain_c)
        .unwrap_or_default();
    let default = listed
        .split(':')
        .filter_map(|l| parse(l).ok())
        .map(|l| catalogs.lang(&l))
        .find(|l| l.catalog.is_some())
        .or_else(|| parse(&env).ok().map(|l| catalogs.lang(&l)))
        .unwrap_or_default();
    let _ = CATALOGS.set(Catalogs {
        default,
        ..catalogs
    });
}

impl Catalogs {
    fn lang(&self, l: &Parsed) -> Lang {
        let catalog = l.candidates().iter().find_map(|c| self.catalog(c));
        Lang {
            locale: l.text.clone(),
            catalog,
        }
    }

    fn catalog(&self, name: &str) -> Option<Arc<gettext::Catalog>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = loaded.get(name) {
            return c.clone();
        }
        let path = self
            .dir
            .join(name)
            .join("LC_MESSAGES")
            .join(format!("{DOMAIN}.mo"));
        let catalog = match std::fs::File::open(&path) {
            Ok(f) => match gettext::Catalog::parse(std::io::BufReader::new(f)) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "reading a catalogue: left out");
                    None
                }
            },
            // No catalogue for this language: English.
            Err(_) => None,
        };
        loaded.insert(name.to_string(), catalog.clone());
        catalog
    }
}

impl Lang {
    /// The language of `locale` (`de_DE.UTF-8`, `fr`, `pt-BR`): its catalogue if the helper has
    /// one, English otherwise. Bad input (empty, overlong, not a locale name) is InvalidArgument.
    pub fn of(locale: &str) -> Result<Lang> {
        let parsed = parse(locale)?;
        Ok(match CATALOGS.get() {
            Some(c) => c.lang(&parsed),
            None => Lang {
                locale: parsed.text,
                catalog: None,
            },
        })
    }

    /// The locale as it was given (empty for the service's default in tests without `init`).
    pub fn locale(&self) -> &str {
        &self.locale
    }

    /// Run blocking work in this language (a thread of its own does not inherit the call's).
    pub fn enter<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, f)
    }
}

/// The language of the words said now: the call's or change's, or the service's own.
pub fn current() -> Lang {
    CURRENT
        .try_with(Lang::clone)
        .ok()
        .or_else(|| CATALOGS.get().map(|c| c.default.clone()))
        .unwrap_or_default()
}

/// Run `f` with words in `lang`.
pub async fn scope<F: Future>(lang: Lang, f: F) -> F::Output {
    CURRENT.scope(lang, f).await
}

/// `msgid` in the current language.
pub fn gettext(msgid: &str) -> String {
    with_catalog(|c| c.map_or(msgid, |c| c.gettext(msgid)).to_string())
}

/// The form of `singular`/`plural` for `n` in the current language (its plural rule).
pub fn ngettext(singular: &str, plural: &str, n: u32) -> String {
    with_catalog(|c| match c {
        Some(c) => c.ngettext(singular, plural, n.into()).to_string(),
        None if n == 1 => singular.to_string(),
        None => plural.to_string(),
    })
}

fn with_catalog<R>(f: impl FnOnce(Option<&gettext::Catalog>) -> R) -> R {
    match CURRENT.try_with(|l| l.catalog.clone()) {
        Ok(c) => f(c.as_deref()),
        Err(_) => f(CATALOGS.get().and_then(|c| c.default.catalog.as_deref())),
    }
}

/// `names` quoted and joined as the current language joins a list: `"a"`, `"a" and "b"`,
/// `"a", "b" and "c"` (`und`, `et`, `y`).
pub fn name_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => {
            // Translators: joins the last two names of a list: "a", "b" and "c".
            gettext("{list} and {last}")
                .replace("{list}", &rest.join(", "))
                .replace("{last}", last)
        }
    }
}

/// A locale name taken apart: `language[_TERRITORY][.codeset][@modifier]` (a BCP 47 `-` is read
/// as `_`). The codeset is not looked at: the catalogues are UTF-8 and so is D-Bus.
#[derive(Debug, PartialEq)]
struct Parsed {
    text: String,
    language: String,
    territory: Option<String>,
    modifier: Option<String>,
}

impl Parsed {
    /// The catalogue names to try, most specific first, as gettext looks them up.
    fn candidates(&self) -> Vec<String> {
        if matches!(self.language.as_str(), "C" | "POSIX") {
            return Vec::new();
        }
        let l = &self.language;
        let mut out = Vec::new();
        if let (Some(t), Some(m)) = (&self.territory, &self.modifier) {
            out.push(format!("{l}_{t}@{m}"));
        }
        if let Some(t) = &self.territory {
            out.push(format!("{l}_{t}"));
        }
        if let Some(m) = &self.modifier {
            out.push(format!("{l}@{m}"));
        }
        out.push(l.clone());
        out
    }
}

fn parse(locale: &str) -> Result<Parsed> {
    let bad = |why: &str| {
        Error::invalid(
            gettext("the locale {locale} is not a locale name ({why})")
                .replace("{locale}", &format!("{locale:?}"))
                .replace("{why}", why),
        )
    };
    if locale.is_empty() {
        return Err(Error::invalid(gettext(
            "the locale is empty (expected a name such as de_DE.UTF-8)",
        )));
    }
    if locale.len() > MAX_LOCALE {
        return Err(Error::invalid(
            gettext("the locale is longer than {max} bytes")
                .replace("{max}", &MAX_LOCALE.to_string()),
        ));
    }
    let (rest, modifier) = split_off(locale, '@');
    let (rest, codeset) = split_off(rest, '.');
    let (language, territory) = split_off(rest, '_');
    let (language, territory) = match territory {
        Some(t) => (language, Some(t)),
        None => split_off(language, '-'),
    };
    let alnum = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let c_locale = matches!(language, "C" | "POSIX") && territory.is_none() && modifier.is_none();
    let letters = language.bytes().all(|b| b.is_ascii_alphabetic());
    let language_ok = letters && (2..=3).contains(&language.len());
    if !(c_locale || language_ok) {
        return Err(bad(&gettext("a language is two or three letters")));
    }
    if territory.is_some_and(|t| !alnum(t) || t.len() > 8)
        || modifier.is_some_and(|m| !alnum(m) || m.len() > 16)
        || codeset.is_some_and(|c| {
            c.is_empty() || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    {
        return Err(bad(&gettext("only letters and digits after the language")));
    }
    Ok(Parsed {
        text: locale.to_string(),
        language: if c_locale {
            language.to_string()
        } else {
            language.to_ascii_lowercase()
        },
        territory: territory.map(str::to_ascii_uppercase),
        modifier: modifier.map(str::to_string),
    })
}

fn split_off(s: &str, sep: char) -> (&str, Option<&str>) {
    match s.split_once(sep) {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_names_are_taken_apart_as_gettext_does() {
        let p = parse("de_DE.UTF-8@euro").unwrap();
        assert_eq!(p.candidates(), ["de_DE@euro", "de_DE", "de@euro", "de"]);
        assert_eq!(parse("fr").unwrap().candidates(), ["fr"]);
        assert_eq!(parse("pt-br").unwrap().candidates(), ["pt_BR", "pt"]);
        assert_eq!(parse("es_419.utf8").unwrap().candidates(), ["es_419", "es"]);
        assert!(parse("C").unwrap().candidates().is_empty());
        assert!(parse("C.UTF-8").unwrap().candidates().is_empty());
        assert!(parse("POSIX").unwrap().candidates().is_empty());
    }

    #[test]
    fn bad_locales_are_refused_with_the_reason() {
        for bad in [
            "",
            "d",
            "deutsch",
            "../../etc/x",
            "de_DE/..",
            "de DE",
            "de_\n",
            "de..",
            "de_DE@",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::InvalidArgument, "{bad:?}");
            assert!(e.message.contains("locale"), "{bad:?}: {}", e.message);
        }
        let long = format!("de_{}", "X".repeat(MAX_LOCALE));
        assert!(parse(&long).unwrap_err().message.contains("longer than 64"));
    }

    #[test]
    fn without_a_catalogue_the_words_are_english() {
        let lang = Lang::of("xx_YY").unwrap();
        assert_eq!(lang.locale(), "xx_YY");
        let words = lang.enter(|| {
            (
                name_list(&["a".into(), "b".into(), "c".into()]),
                ngettext("Downloading {n} snap", "Downloading {n} snaps", 2),
            )
        });
        assert_eq!(
            words,
            (
                "\"a\", \"b\" and \"c\"".into(),
                "Downloading {n} snaps".into()
            )
        );
    }
}
