//! Every kind of error a caller can provoke comes in the caller's language (issue 18 item 4): a
//! `de` connection and an `fr` connection get German and French words, a connection that asked
//! for no language English, and the error kind is the same for all three (scripts match the
//! kind, never the message).

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{kind_of, Env};
use snapshelf_dbus::proxy::Helper1ProxyBlocking;
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;
use zbus::zvariant::{OwnedValue, Value};

type Proxy = Helper1ProxyBlocking<'static>;

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A snap `name` from `yaml` (name, version and base added) with `bin/true` and `hooks`.
fn snap(dir: &Path, out: &Path, name: &str, yaml: &str, hooks: &[(&str, &str)]) -> PathBuf {
    let s = dir.join(format!(
        "src-{}",
        out.file_stem().unwrap().to_string_lossy()
    ));
    write(
        &s.join("meta/snap.yaml"),
        &format!("name: {name}\nversion: '1'\nsummary: errors\nbase: shelf-base\n{yaml}"),
        0o644,
    );
    write(&s.join("bin/true"), "#!/bin/sh\nexit 0\n", 0o755);
    // Where a content plug's files appear.
    write(&s.join("import/.placeholder"), "", 0o644);
    for (hook, script) in hooks {
        write(&s.join("meta/hooks").join(hook), script, 0o755);
    }
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    snapshelf_snap::squashfs::pack(&s, out, &Default::default()).unwrap();
    out.to_path_buf()
}

const APP: &str = "apps:\n  app:\n    command: bin/true\n";

fn opts(pairs: &[(&str, Value<'_>)]) -> Dict {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), OwnedValue::try_from(v.clone()).unwrap()))
        .collect()
}

fn unsigned() -> Dict {
    opts(&[("unsigned", Value::from(true))])
}

fn install_file(p: &Proxy, path: &Path) -> zbus::Result<zbus::zvariant::OwnedObjectPath> {
    let f = std::fs::File::open(path).unwrap();
    p.install_file(zbus::zvariant::OwnedFd::from(OwnedFd::from(f)), unsigned())
}

fn message(e: &zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(_, Some(m), _) => m.clone(),
        other => panic!("not a method error: {other}"),
    }
}

/// The connections of the three languages: German, French, and one that asked for none.
struct Callers {
    de: Proxy,
    fr: Proxy,
    en: Proxy,
}

impl Callers {
    /// `call` refused for each caller with `kind`, in each caller's words (`[en, de, fr]`, a
    /// part of the message each); the German and French messages are not the English one.
    fn refused(&self, kind: ErrorKind, words: [&str; 3], call: impl Fn(&Proxy) -> zbus::Error) {
        let mut english = String::new();
        for (p, want, lang) in [
            (&self.en, words[0], "en"),
            (&self.de, words[1], "de"),
            (&self.fr, words[2], "fr"),
        ] {
            let e = call(p);
            let m = message(&e);
            assert_eq!(kind_of(e), kind, "{lang}: {m}");
            assert!(m.contains(want), "{lang}: {m:?} lacks {want:?}");
            if lang == "en" {
                english = m;
            } else {
                assert_ne!(m, english, "{lang} is English");
            }
        }
    }
}

fn callers(env: &Env) -> Callers {
    let c = Callers {
        de: env.proxy(),
        fr: env.proxy(),
        en: env.proxy(),
    };
    c.de.set_locale("de_DE.UTF-8").unwrap();
    c.fr.set_locale("fr_FR.UTF-8").unwrap();
    c
}

/// The sample catalog with a classic and a devmode snap, the helper reading the project's
/// catalogues and running hooks with the workspace's confine.
fn setup(work: &Path, catalog: &Path, locales: &Path) -> Env {
    common::copy_dir(common::catalog(), catalog);
    let snaps = catalog.join("snaps");
    let mut toml = std::fs::read_to_string(catalog.join("catalog.toml")).unwrap();
    for (name, confinement) in [("shelf-classic", "classic"), ("shelf-devmode", "devmode")] {
        let yaml = format!("confinement: {confinement}\n{APP}");
        snap(
            work,
            &snaps.join(format!("{name}_1.snap")),
            name,
            &yaml,
            &[],
        );
        toml.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"netcraft\"\ncategories = \
             [\"development\"]\nlicense = \"MIT\"\nchannels = {{ \"latest/stable\" = 1 }}\n"
        ));
    }
    std::fs::write(catalog.join("catalog.toml"), toml).unwrap();
    let langs = common::compile_translations(locales);
    assert!(langs.iter().any(|l| l == "de") && langs.iter().any(|l| l == "fr"));
    let mut env = Env::with_catalog(catalog);
    write(&env.root.join("etc/snapshelf/config.toml"), "", 0o644);
    let mut c = env.helper_command();
    c.arg("--locale-dir").arg(locales);
    c.arg("--confine").arg(common::workspace_bin(
        "snapshelf-confine",
        "snapshelf-confine",
    ));
    env.start_helper_from(c);
    env
}

/// The refusals a call meets before it starts anything: not found, not installed, already
/// installed, classic, devmode, bad arguments of several methods, no such option, unmet
/// `assumes`, an epoch that cannot read the data, a provider in use, polkit's refusal.
#[test]
fn every_kind_of_refusal_is_in_the_callers_language() {
    if !common::require_root() {
        return;
    }
    let (work, catalog, locales) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = setup(work.path(), catalog.path(), locales.path());
    let c = callers(&env);
    env.done(c.en.install(&["shelf-hello"], Dict::new()));

    c.refused(
        ErrorKind::NotFound,
        [
            "snap \"shelf-nowhere\" not found in the store",
            "Snap \"shelf-nowhere\" wurde im Store nicht gefunden",
            "le snap \"shelf-nowhere\" est introuvable dans le magasin",
        ],
        |p| p.install(&["shelf-nowhere"], Dict::new()).unwrap_err(),
    );
    c.refused(
        ErrorKind::NotFound,
        [
            "\"shelf-hello\" has no plug \"nope\"",
            "\"shelf-hello\" hat keinen Anschluss \"nope\"",
            "\"shelf-hello\" n’a pas de connecteur \"nope\"",
        ],
        |p| p.connect("shelf-hello", "nope", "", "").unwrap_err(),
    );
    c.refused(
        ErrorKind::NotInstalled,
        [
            "\"shelf-nowhere\" is not installed",
            "\"shelf-nowhere\" ist nicht installiert",
            "\"shelf-nowhere\" n’est pas installé",
        ],
        |p| p.remove(&["shelf-nowhere"], Dict::new()).unwrap_err(),
    );
    c.refused(
        ErrorKind::AlreadyInstalled,
        [
            "\"shelf-hello\" is already installed",
            "\"shelf-hello\" ist bereits installiert",
            "\"shelf-hello\" est déjà installé",
        ],
        |p| p.install(&["shelf-hello"], Dict::new()).unwrap_err(),
    );
    c.refused(
        ErrorKind::NeedsClassic,
        [
            "\"shelf-classic\" needs classic confinement: it runs without a sandbox",
            "\"shelf-classic\" benötigt klassische Einschränkung",
            "\"shelf-classic\" nécessite le confinement classique",
        ],
        |p| p.install(&["shelf-classic"], Dict::new()).unwrap_err(),
    );
    c.refused(
        ErrorKind::InvalidSnap,
        [
            "\"shelf-devmode\" uses devmode confinement",
            "\"shelf-devmode\" verwendet den Entwicklermodus",
            "\"shelf-devmode\" utilise le confinement en mode développement",
        ],
        |p| p.install(&["shelf-devmode"], Dict::new()).unwrap_err(),
    );
    invalid_arguments(&c);
    c.refused(
        ErrorKind::NoSuchOption,
        [
            "snap \"shelf-hello\" has no ",
            "Snap \"shelf-hello\" hat keine ",
            "le snap \"shelf-hello\" n’a pas ",
        ],
        |p| p.get_config("shelf-hello", &["nope"]).unwrap_err(),
    );
    from_files(&env, &c, work.path());
    not_authorized(&env);
    assert_eq!(
        common::installed(&env)
            .iter()
            .filter(|s| s.name == "shelf-classic" || s.name == "shelf-devmode")
            .count(),
        0,
        "a refused call installed something"
    );
}

/// InvalidArgument from Install, SetConfig, GetConfig and Alias.
fn invalid_arguments(c: &Callers) {
    c.refused(
        ErrorKind::InvalidArgument,
        [
            "invalid revision \"abc\" (a store revision is a number)",
            "ungültige Revision \"abc\"",
            "révision non valide \"abc\"",
        ],
        |p| {
            p.install(&["shelf-hello"], opts(&[("revision", Value::from("abc"))]))
                .unwrap_err()
        },
    );
    c.refused(
        ErrorKind::InvalidArgument,
        [
            "invalid snap name \"Bad_Name\"",
            "ungültiger Snap-Name \"Bad_Name\"",
            "nom de snap non valide \"Bad_Name\"",
        ],
        |p| p.install(&["Bad_Name"], Dict::new()).unwrap_err(),
    );
    c.refused(
        ErrorKind::InvalidArgument,
        [
            "the configuration patch must be a JSON object of keys to values",
            "die Konfigurationsänderung muss ein JSON-Objekt",
            "le correctif de configuration doit être un objet JSON",
        ],
        |p| p.set_config("shelf-hello", "[1]").unwrap_err(),
    );
    c.refused(
        ErrorKind::InvalidArgument,
        [
            "an empty configuration key",
            "ein leerer Konfigurationsschlüssel",
            "une clé de configuration vide",
        ],
        |p| p.get_config("shelf-hello", &[""]).unwrap_err(),
    );
    c.refused(
        ErrorKind::InvalidArgument,
        [
            "invalid alias name: \"-bad\"",
            "ungültiger Aliasname: \"-bad\"",
            "nom d’alias non valide : \"-bad\"",
        ],
        |p| p.alias("shelf-hello", "-bad").unwrap_err(),
    );
}

/// AssumesNotMet, EpochMismatch and ProviderInUse, with snaps installed from files.
fn from_files(env: &Env, c: &Callers, work: &Path) {
    let needy = snap(
        work,
        &work.join("needy.snap"),
        "shelf-needy",
        &format!("assumes: [kernel-assets]\n{APP}"),
        &[],
    );
    c.refused(
        ErrorKind::AssumesNotMet,
        [
            "assumes unsupported features: kernel-assets",
            "setzt nicht unterstützte Funktionen voraus: kernel-assets",
            "suppose des fonctionnalités non prises en charge : kernel-assets",
        ],
        |p| install_file(p, &needy).unwrap_err(),
    );

    let old = snap(work, &work.join("epoch0.snap"), "shelf-epoch", APP, &[]);
    env.done(install_file(&c.en, &old));
    let new = snap(
        work,
        &work.join("epoch5.snap"),
        "shelf-epoch",
        &format!("epoch: 5\n{APP}"),
        &[],
    );
    c.refused(
        ErrorKind::EpochMismatch,
        [
            "it cannot read the data of the installed revision",
            "sie kann die Daten der installierten Revision",
            "elle ne peut pas lire les données de la révision installée",
        ],
        |p| install_file(p, &new).unwrap_err(),
    );

    let slot = snap(
        work,
        &work.join("slot.snap"),
        "shelf-provider",
        "slots:\n  lib:\n    interface: content\n    content: mylib\n    read: [/]\n",
        &[],
    );
    let plug = snap(
        work,
        &work.join("plug.snap"),
        "shelf-consumer",
        "plugs:\n  lib:\n    interface: content\n    target: import\n    content: mylib\n",
        &[],
    );
    env.done(install_file(&c.en, &slot));
    env.done(install_file(&c.en, &plug));
    env.done(c.en.connect("shelf-consumer", "lib", "shelf-provider", "lib"));
    c.refused(
        ErrorKind::ProviderInUse,
        [
            "cannot remove \"shelf-provider\": its content is used by \"shelf-consumer:lib\"",
            "\"shelf-provider\" kann nicht entfernt werden: sein Inhalt wird von \"shelf-consumer:lib\" verwendet",
            "impossible de supprimer \"shelf-provider\" : son contenu est utilisé par \"shelf-consumer:lib\"",
        ],
        |p| p.remove(&["shelf-provider"], Dict::new()).unwrap_err(),
    );
}

/// polkit's refusal of a user who may not install, in the language of the call's option.
fn not_authorized(env: &Env) {
    for (locale, words) in [
        ("", ["not authorized", "authentication is required"]),
        (
            "de_DE.UTF-8",
            ["nicht berechtigt", "Authentifizierung ist erforderlich"],
        ),
        (
            "fr_FR.UTF-8",
            ["non autorisé", "une authentification est requise"],
        ),
    ] {
        let mut args = vec!["Install", "asa{sv}", "1", "shelf-dice"];
        if locale.is_empty() {
            args.push("0");
        } else {
            args.extend(["1", "locale", "s", locale]);
        }
        let (ok, out) = env.busctl_as(common::DENIED, &args);
        assert!(!ok, "{out}");
        assert!(words.iter().any(|w| out.contains(w)), "{locale}: {out}");
    }
}

/// A change that fails keeps its caller's words (HookFailed's lead), and a call that meets a
/// change at work is refused with ChangeConflict in each caller's language.
#[test]
fn a_failed_hook_and_a_conflict_are_in_the_callers_language() {
    if !common::require_root() {
        return;
    }
    let (work, catalog, locales) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = setup(work.path(), catalog.path(), locales.path());
    let c = callers(&env);
    env.done(c.en.install(&["shelf-base"], Dict::new()));
    // The configure hook fails when asked, after a while when asked to be slow.
    let hooked = snap(
        work.path(),
        &work.path().join("hooked.snap"),
        "shelf-hooked",
        APP,
        &[(
            "configure",
            "#!/bin/sh\nif [ \"$(snapctl get slow)\" = yes ]; then sleep 3; fi\n\
             if [ \"$(snapctl get fail)\" = yes ]; then echo 'failing as asked'; exit 1; fi\n",
        )],
    );
    env.done(install_file(&c.en, &hooked));

    for (p, lead) in [
        (&c.en, "run hook \"configure\": exit status 1"),
        (&c.de, "Hook \"configure\" ausführen: Exit-Status 1"),
        (&c.fr, "exécution du hook \"configure\" : code de sortie 1"),
    ] {
        let change = p.set_config("shelf-hooked", r#"{"fail": "yes"}"#).unwrap();
        let (status, kind, error) = env.wait_change(change.as_str());
        assert_eq!((status.as_str(), kind.as_str()), ("Error", "hook-failed"));
        assert!(error.starts_with(lead), "{error}");
        assert!(error.contains("failing as asked"), "{error}");
    }

    let slow =
        c.en.set_config("shelf-hooked", r#"{"slow": "yes"}"#)
            .unwrap();
    c.refused(
        ErrorKind::ChangeConflict,
        [
            "is already working on \"shelf-hooked\"",
            "arbeitet bereits an \"shelf-hooked\"",
            "travaille déjà sur \"shelf-hooked\"",
        ],
        |p| p.remove(&["shelf-hooked"], Dict::new()).unwrap_err(),
    );
    let (status, kind, error) = env.wait_change(slow.as_str());
    assert_eq!(status, "Done", "{kind}: {error}");
}
