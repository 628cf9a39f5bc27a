//! The caller's language (issue 18): each connection's `SetLocale`, or an options `locale` for
//! one call, decides the language of the summaries and errors the helper gives it; a change keeps
//! the language of the call that made it.

mod common;

use common::{kind_of, Env};
use snapshelf_dbus::proxy::{Change1ProxyBlocking, Helper1ProxyBlocking};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;

/// A helper that reads the project's catalogues, compiled into a directory of the test's.
fn env_with_catalogues() -> (Env, tempfile::TempDir) {
    let mut env = Env::new();
    let locales = tempfile::tempdir().unwrap();
    let langs = common::compile_translations(locales.path());
    assert!(langs.iter().any(|l| l == "de") && langs.iter().any(|l| l == "fr"));
    let mut c = env.helper_command();
    c.arg("--locale-dir").arg(locales.path());
    env.start_helper_from(c);
    (env, locales)
}

fn summary(env: &Env, path: &str) -> String {
    let conn = env.connection();
    Change1ProxyBlocking::builder(&conn)
        .path(path.to_string())
        .unwrap()
        .build()
        .unwrap()
        .summary()
        .unwrap()
}

/// The message of the error `Remove` of a snap that is not installed gives this caller.
fn not_installed(helper: &Helper1ProxyBlocking<'_>, options: Dict) -> String {
    let e = helper.remove(&["shelf-nowhere"], options).unwrap_err();
    match e {
        zbus::Error::MethodError(_, Some(m), _) => m,
        other => panic!("not a method error: {other}"),
    }
}

fn locale_option(locale: &str) -> Dict {
    Dict::from([(
        "locale".to_string(),
        zbus::zvariant::OwnedValue::try_from(zbus::zvariant::Value::from(locale)).unwrap(),
    )])
}

#[test]
fn each_connection_gets_its_own_language() {
    if !common::require_root() {
        return;
    }
    let (env, _locales) = env_with_catalogues();
    let de = env.proxy();
    let fr = env.proxy();
    let unknown = env.proxy();
    let none = env.proxy();
    de.set_locale("de_DE.UTF-8").unwrap();
    fr.set_locale("fr_FR.UTF-8").unwrap();
    unknown.set_locale("xx_YY.UTF-8").unwrap();

    // Errors, each in its caller's language at the same time.
    assert_eq!(
        not_installed(&de, Dict::new()),
        "\"shelf-nowhere\" ist nicht installiert"
    );
    assert_eq!(
        not_installed(&fr, Dict::new()),
        "\"shelf-nowhere\" n’est pas installé"
    );
    // No catalogue for the language, or none asked for: English (the helper runs in C).
    assert_eq!(
        not_installed(&unknown, Dict::new()),
        "\"shelf-nowhere\" is not installed"
    );
    assert_eq!(
        not_installed(&none, Dict::new()),
        "\"shelf-nowhere\" is not installed"
    );
    // An options `locale` wins for its one call, and only for it.
    assert_eq!(
        not_installed(&de, locale_option("es_ES")),
        "\"shelf-nowhere\" no está instalado"
    );
    assert_eq!(
        not_installed(&de, Dict::new()),
        "\"shelf-nowhere\" ist nicht installiert"
    );

    // A list joined with the language's word, in the summary the change keeps.
    let names = ["shelf-hello", "shelf-notes", "shelf-dice"];
    let install = de.install(&names, Dict::new()).unwrap();
    let german = "\"shelf-hello\", \"shelf-notes\" und \"shelf-dice\" installieren";
    assert_eq!(summary(&env, install.as_str()), german);
    let (status, kind, error) = env.wait_change(install.as_str());
    assert_eq!(status, "Done", "{kind}: {error}");
    let remove = fr.remove(&names, Dict::new()).unwrap();
    assert_eq!(
        summary(&env, remove.as_str()),
        "Supprimer \"shelf-hello\", \"shelf-notes\" et \"shelf-dice\""
    );
    let (status, kind, error) = env.wait_change(remove.as_str());
    assert_eq!(status, "Done", "{kind}: {error}");
    // A change keeps the words of the caller that made it, whoever reads them and when.
    assert_eq!(summary(&env, install.as_str()), german);
    let paths = fr.list_changes().unwrap();
    assert!(paths.contains(&install));
}

#[test]
fn bad_locales_are_refused_clearly_and_change_nothing() {
    if !common::require_root() {
        return;
    }
    let (env, _locales) = env_with_catalogues();
    let helper = env.proxy();
    helper.set_locale("de").unwrap();
    let long = format!("de_DE.{}", "U".repeat(80));
    for (bad, says) in [
        ("", "the locale is empty"),
        (long.as_str(), "longer than 64 bytes"),
        ("../../../etc/passwd", "not a locale name"),
        ("de_DE\n", "not a locale name"),
        ("deutsch", "two or three letters"),
        ("de_DE@", "not a locale name"),
    ] {
        let e = helper.set_locale(bad).unwrap_err();
        assert_eq!(kind_of(e.clone()), ErrorKind::InvalidArgument, "{bad:?}");
        // Refused in the connection's own language, which is unchanged.
        let m = e.to_string();
        assert!(m.contains("Locale"), "{bad:?}: {m}");
        let english = Helper1ProxyBlocking::new(&env.connection()).unwrap();
        let e = english.set_locale(bad).unwrap_err().to_string();
        assert!(e.contains(says), "{bad:?}: {e}");
        // The same words refused in options, before the method does anything.
        let e = english
            .install(&["shelf-hello"], locale_option(bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{bad:?} as an option: {e}");
    }
    let e = helper
        .install(
            &["shelf-hello"],
            Dict::from([("locale".to_string(), zbus::zvariant::OwnedValue::from(7u32))]),
        )
        .unwrap_err();
    assert_eq!(kind_of(e.clone()), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("\"locale\""), "{e}");
    assert!(helper.list_changes().unwrap().is_empty(), "nothing started");
    assert_eq!(
        not_installed(&helper, Dict::new()),
        "\"shelf-nowhere\" ist nicht installiert"
    );
}
