//! What the agent's notification says of an update held while its apps run, in each of the
//! project's languages, from the catalogues compiled here with `msgfmt --check`: the days left
//! before it is installed anyway, with the plural each language wants.

use std::path::Path;
use std::process::Command;

use snapshelf_update_agent::held_words;

const DAY: u64 = 24 * 60 * 60;

/// `po/<lang>.po` compiled into `<dir>/<lang>/LC_MESSAGES/snapshelf.mo`.
fn compile(dir: &Path, lang: &str) {
    let po = Path::new(env!("CARGO_MANIFEST_DIR")).join("../po");
    let out = dir.join(lang).join("LC_MESSAGES");
    std::fs::create_dir_all(&out).unwrap();
    let o = Command::new("msgfmt")
        .args(["--check", "-o"])
        .arg(out.join("snapshelf.mo"))
        .arg(po.join(format!("{lang}.po")))
        .output()
        .expect("msgfmt (Debian package gettext) is needed");
    assert!(
        o.status.success(),
        "{lang}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// One test, so that the process-wide locale is changed by nothing else meanwhile.
#[test]
fn the_days_left_are_said_in_every_language() {
    let dir = tempfile::tempdir().unwrap();
    for lang in ["de", "fr", "es"] {
        compile(dir.path(), lang);
    }
    std::env::set_var("SNAPSHELF_LOCALEDIR", dir.path());
    // gettext reads LANGUAGE only outside the plain C locale.
    std::env::set_var("LANG", "C.UTF-8");
    std::env::remove_var("LC_ALL");
    std::env::remove_var("LC_MESSAGES");
    let cases = [
        (
            "en",
            "shelf-clock: the update is installed when you close the app, or in 1 day even if it is still open.",
            "shelf-clock: the update is installed when you close the app, or in 14 days even if it is still open.",
            "shelf-clock: the update is installed when you close the app.",
        ),
        (
            "de",
            "shelf-clock: Die Aktualisierung wird installiert, wenn Sie die Anwendung schließen, spätestens aber in 1 Tag, auch wenn sie noch geöffnet ist.",
            "shelf-clock: Die Aktualisierung wird installiert, wenn Sie die Anwendung schließen, spätestens aber in 14 Tagen, auch wenn sie noch geöffnet ist.",
            "shelf-clock: Die Aktualisierung wird installiert, wenn Sie die Anwendung schließen.",
        ),
        (
            "fr",
            "shelf-clock : la mise à jour sera installée quand vous fermerez l’application, ou dans 1 jour même si elle est encore ouverte.",
            "shelf-clock : la mise à jour sera installée quand vous fermerez l’application, ou dans 14 jours même si elle est encore ouverte.",
            "shelf-clock : la mise à jour sera installée quand vous fermerez l’application.",
        ),
        (
            "es",
            "shelf-clock: la actualización se instalará cuando cierre la aplicación, o dentro de 1 día aunque siga abierta.",
            "shelf-clock: la actualización se instalará cuando cierre la aplicación, o dentro de 14 días aunque siga abierta.",
            "shelf-clock: la actualización se instalará cuando cierre la aplicación.",
        ),
    ];
    for (lang, one, many, unknown) in cases {
        std::env::set_var("LANGUAGE", lang);
        // setlocale again: gettext forgets the catalogue of the language before.
        snapshelf_i18n::init_locale();
        // An hour left is still "1 day"; the helper's 14 days less a second is "14 days".
        assert_eq!(held_words("shelf-clock", Some(3600)), one, "{lang}");
        assert_eq!(
            held_words("shelf-clock", Some(14 * DAY - 1)),
            many,
            "{lang}"
        );
        assert_eq!(held_words("shelf-clock", None), unknown, "{lang}");
    }
}
