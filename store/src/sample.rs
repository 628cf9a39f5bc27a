//! The sample catalog: built from the sources in `data/catalog/` (embedded in the binary) into a
//! catalog directory the store serves. Snap source trees are packed (with busybox or host binaries
//! added where their `snapbuild.toml` asks), SVG art is rasterised to PNG. The output is
//! reproducible: the same sources give byte-identical snaps.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use include_dir::{include_dir, Dir};
use serde::Deserialize;
use snapshelf_snap::squashfs::{pack, PackOptions};

static SOURCES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../data/catalog");

/// Every inode of a sample snap carries this mtime (2026-01-01), so digests are stable.
const MTIME: u32 = 1_767_225_600;
const ICON_SIZE: u32 = 256;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct SnapBuild {
    #[serde(default)]
    busybox: bool,
    #[serde(default)]
    dirs: Vec<String>,
    #[serde(default)]
    host_binaries: Vec<String>,
    /// Symbolic links to make, path → target (a base's `usr/bin/snapctl`, as core bases have).
    #[serde(default)]
    links: std::collections::BTreeMap<String, String>,
}

fn mode_for(bytes: &[u8]) -> u32 {
    if bytes.starts_with(b"#!") || bytes.starts_with(b"\x7fELF") {
        0o755
    } else {
        0o644
    }
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Write an embedded directory's files under `dest`, except `snapbuild.toml`.
fn materialise(dir: &Dir<'_>, base: &Path, dest: &Path) -> anyhow::Result<()> {
    for f in dir.files() {
        let rel = f.path().strip_prefix(base).unwrap_or(f.path());
        if rel == Path::new("snapbuild.toml") {
            continue;
        }
        write_file(&dest.join(rel), f.contents(), mode_for(f.contents()))?;
    }
    for d in dir.dirs() {
        materialise(d, base, dest)?;
    }
    Ok(())
}

struct Rasteriser {
    options: resvg::usvg::Options<'static>,
}

impl Rasteriser {
    fn new() -> Self {
        let mut options = resvg::usvg::Options::default();
        std::sync::Arc::make_mut(&mut options.fontdb).load_system_fonts();
        Rasteriser { options }
    }

    /// SVG → PNG, scaled to `width` (keeping the aspect ratio) or at its own size.
    fn png(&self, svg: &[u8], width: Option<u32>) -> anyhow::Result<Vec<u8>> {
        let tree = resvg::usvg::Tree::from_data(svg, &self.options).context("invalid SVG")?;
        let size = tree.size();
        let scale = width.map(|w| w as f32 / size.width()).unwrap_or(1.0);
        let (w, h) = (
            (size.width() * scale).round() as u32,
            (size.height() * scale).round() as u32,
        );
        let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).context("empty image")?;
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        pixmap.encode_png().context("cannot encode PNG")
    }
}

fn add_busybox(stage: &Path) -> anyhow::Result<()> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .context(
            "busybox is missing: install Debian's busybox-static (apt-get install busybox-static)",
        )?;
    let out = Command::new(busybox)
        .arg("--list-full")
        .output()
        .context("cannot run busybox")?;
    if !out.status.success() {
        bail!("busybox --list-full failed");
    }
    let bytes = std::fs::read(busybox)?;
    write_file(&stage.join("bin/busybox"), &bytes, 0o755)?;
    let mut applets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && !l.contains(".."))
        .collect();
    applets.sort();
    for applet in applets {
        if applet == "bin/busybox" {
            continue;
        }
        let path = stage.join(&applet);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        if std::fs::symlink_metadata(&path).is_err() {
            std::os::unix::fs::symlink("/bin/busybox", &path)?;
        }
    }
    Ok(())
}

/// Copy host binaries and, found with `ldd`, every library they load and the dynamic loader.
fn add_host_binaries(stage: &Path, binaries: &[String]) -> anyhow::Result<()> {
    let mut files: BTreeSet<PathBuf> = BTreeSet::new();
    for bin in binaries {
        let path = Path::new(bin);
        if !path.is_file() {
            bail!("{bin} is missing on this machine: install it (for xeyes: apt-get install x11-apps)");
        }
        files.insert(path.to_path_buf());
        let out = Command::new("ldd")
            .arg(path)
            .output()
            .context("cannot run ldd")?;
        if !out.status.success() {
            bail!("ldd {bin} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let lib = match line.split_once("=>") {
                Some((_, rest)) => rest.trim().split(' ').next().unwrap_or(""),
                None => line.trim().split(' ').next().unwrap_or(""),
            };
            if lib.starts_with('/') {
                files.insert(PathBuf::from(lib));
            }
        }
    }
    for f in files {
        // Copy the content (through symlinks), at the path the loader asks for.
        let bytes = std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
        let rel = f.strip_prefix("/").unwrap_or(&f);
        write_file(&stage.join(rel), &bytes, 0o755)?;
    }
    Ok(())
}

/// Build the sample catalog into `out`.
pub fn build(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out.join("snaps"))?;
    std::fs::create_dir_all(out.join("media"))?;
    let catalog = SOURCES
        .get_file("catalog.toml")
        .context("the embedded catalog has no catalog.toml")?;
    let tmp = out.join("catalog.toml.tmp");
    std::fs::write(&tmp, catalog.contents())?;
    std::fs::rename(&tmp, out.join("catalog.toml"))?;

    let raster = Rasteriser::new();
    let media = SOURCES
        .get_dir("media")
        .context("no media in the embedded catalog")?;
    for snap_media in media.dirs() {
        let name = snap_media
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .context("bad media folder name")?;
        std::fs::create_dir_all(out.join("media").join(name))?;
        for f in snap_media.files() {
            let file_name = f
                .path()
                .file_stem()
                .and_then(|n| n.to_str())
                .unwrap_or("image");
            let width = (file_name == "icon").then_some(ICON_SIZE);
            let png = raster
                .png(f.contents(), width)
                .with_context(|| format!("cannot render {}", f.path().display()))?;
            let dest = out
                .join("media")
                .join(name)
                .join(format!("{file_name}.png"));
            let t = dest.with_extension("png.tmp");
            std::fs::write(&t, png)?;
            std::fs::rename(&t, &dest)?;
        }
    }

    let staging_root = out.join(".staging");
    let _ = std::fs::remove_dir_all(&staging_root);
    let snaps = SOURCES
        .get_dir("snaps")
        .context("no snaps in the embedded catalog")?;
    for src in snaps.dirs() {
        let dir_name = src
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .context("bad snap folder name")?;
        let (name, _) = dir_name
            .rsplit_once('_')
            .context("snap folders are named <name>_<revision>")?;
        let stage = staging_root.join(dir_name);
        materialise(src, src.path(), &stage)?;
        let build: SnapBuild = match src.get_file(src.path().join("snapbuild.toml")) {
            Some(f) => toml::from_str(f.contents_utf8().unwrap_or(""))
                .with_context(|| format!("{dir_name}/snapbuild.toml"))?,
            None => SnapBuild::default(),
        };
        for d in &build.dirs {
            std::fs::create_dir_all(stage.join(d))?;
        }
        if build.busybox {
            add_busybox(&stage)?;
        }
        for (at, to) in &build.links {
            let at = stage.join(at);
            if let Some(parent) = at.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let _ = std::fs::remove_file(&at);
            std::os::unix::fs::symlink(to, &at)
                .with_context(|| format!("{dir_name}: cannot link {}", at.display()))?;
        }
        add_host_binaries(&stage, &build.host_binaries)?;
        let icon = out.join("media").join(name).join("icon.png");
        if icon.is_file() {
            write_file(
                &stage.join("meta/gui/icon.png"),
                &std::fs::read(&icon)?,
                0o644,
            )?;
        }
        normalise_dirs(&stage)?;
        pack(
            &stage,
            &out.join("snaps").join(format!("{dir_name}.snap")),
            &PackOptions { mtime: MTIME },
        )
        .with_context(|| format!("cannot pack {dir_name}"))?;
    }
    std::fs::remove_dir_all(&staging_root)?;
    Ok(())
}

/// Directories get 0755 whatever the umask was, so snaps do not depend on who built them.
fn normalise_dirs(dir: &Path) -> anyhow::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            normalise_dirs(&e.path())?;
        }
    }
    Ok(())
}

const WORDS: &[&str] = &[
    "tool", "editor", "viewer", "player", "manager", "monitor", "client", "server", "browser",
    "reader", "tracker", "notes", "calendar", "mail", "chat", "terminal", "paint", "photo",
    "music", "video",
];
const CATEGORIES: &[&str] = &[
    "development",
    "productivity",
    "utilities",
    "games",
    "photo-and-video",
    "music-and-audio",
    "education",
    "science",
    "social",
    "entertainment",
];

/// A synthetic catalog of `count` small snaps, for benchmarks: varied names, summaries and
/// categories, one shared icon, the same shape as the sample catalog.
pub fn build_generated(out: &Path, count: usize) -> anyhow::Result<()> {
    let snaps_dir = out.join("snaps");
    std::fs::create_dir_all(&snaps_dir)?;
    std::fs::create_dir_all(out.join("media/shared"))?;
    let raster = Rasteriser::new();
    let icon_svg = SOURCES
        .get_file("media/shelf-hello/icon.svg")
        .context("the embedded catalog lacks the shared icon")?;
    std::fs::write(
        out.join("media/shared/icon.png"),
        raster.png(icon_svg.contents(), Some(ICON_SIZE))?,
    )?;
    let mut toml = String::from(
        "[store]\nauthority-id = \"generated\"\ndisplay-name = \"Generated Store\"\n\n[[publisher]]\nid = \"generator\"\ndisplay-name = \"The Generator\"\nvalidation = \"verified\"\n\n",
    );
    for i in 0..count {
        let name = format!("generated-app-{i}");
        let cat = CATEGORIES[i % CATEGORIES.len()];
        toml.push_str(&format!(
            "[[snap]]\nname = \"{name}\"\npublisher = \"generator\"\ncategories = [\"{cat}\"]\nfeatured = {}\nicon = \"shared/icon.png\"\nchannels = {{ \"latest/stable\" = 1 }}\n\n",
            i % 500 == 0
        ));
    }
    add_generated_core(out, &mut toml)?;
    std::fs::write(out.join("catalog.toml"), toml)?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let stage_root = out.join(".staging");
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let stage_root = &stage_root;
                let snaps_dir = &snaps_dir;
                s.spawn(move || -> anyhow::Result<()> {
                    for i in (w..count).step_by(workers) {
                        let name = format!("generated-app-{i}");
                        let target = snaps_dir.join(format!("{name}_1.snap"));
                        if target.exists() {
                            continue;
                        }
                        let stage = stage_root.join(&name);
                        let (a, b) = (WORDS[i % WORDS.len()], WORDS[(i / WORDS.len()) % WORDS.len()]);
                        let yaml = format!(
                            "name: {name}\nversion: '1.{}'\ntitle: Generated {a} {i}\nsummary: A generated {a} and {b} for benchmarks\ndescription: |\n  Snap number {i} of a generated catalog: a {a} that is also a {b}.\napps:\n  {name}:\n    command: bin/run\n",
                            i % 10
                        );
                        write_file(&stage.join("meta/snap.yaml"), yaml.as_bytes(), 0o644)?;
                        write_file(&stage.join("bin/run"), format!("#!/bin/sh\necho {name}\n").as_bytes(), 0o755)?;
                        normalise_dirs(&stage)?;
                        pack(&stage, &target, &PackOptions { mtime: MTIME })?;
                        std::fs::remove_dir_all(&stage)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a packing thread panicked"))??;
        }
        Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&stage_root);
    Ok(())
}

/// The generated apps name no base, so they run on `core`, as snapd gives such snaps: a `core`
/// built like the sample base (busybox at the standard paths) is in the generated catalog too.
fn add_generated_core(out: &Path, toml: &mut String) -> anyhow::Result<()> {
    let target = out.join("snaps/core_1.snap");
    toml.push_str("[[snap]]\nname = \"core\"\npublisher = \"generator\"\ncategories = [\"development\"]\nicon = \"shared/icon.png\"\nchannels = { \"latest/stable\" = 1 }\n\n");
    if target.exists() {
        return Ok(());
    }
    let stage = out.join(".staging-core");
    let _ = std::fs::remove_dir_all(&stage);
    let yaml = "name: core\nversion: '16'\nsummary: The base of the generated apps\ntype: os\n";
    write_file(&stage.join("meta/snap.yaml"), yaml.as_bytes(), 0o644)?;
    for d in [
        "dev", "etc", "home", "proc", "root", "run", "snap", "sys", "tmp", "usr/lib", "var/lib",
        "var/snap", "var/tmp",
    ] {
        std::fs::create_dir_all(stage.join(d))?;
    }
    add_busybox(&stage)?;
    normalise_dirs(&stage)?;
    pack(&stage, &target, &PackOptions { mtime: MTIME }).context("cannot pack core")?;
    std::fs::remove_dir_all(&stage)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapshelf_snap::squashfs::SnapFile;
    use snapshelf_snap::yaml::SnapYaml;

    #[test]
    fn the_sample_catalog_has_what_the_other_parts_need() {
        let t = tempfile::tempdir().unwrap();
        build(t.path()).unwrap();
        let catalog = crate::catalog::Catalog::load(&t.path().join("catalog.toml")).unwrap();
        let mut apps = 0;
        let mut interfaces = BTreeSet::new();
        for e in std::fs::read_dir(t.path().join("snaps")).unwrap() {
            let path = e.unwrap().path();
            let file = path.file_name().unwrap().to_str().unwrap().to_string();
            let snap = SnapFile::open(&path).unwrap();
            let y = SnapYaml::parse(&snap.snap_yaml_text().unwrap()).unwrap();
            assert!(file.starts_with(&format!("{}_", y.name)), "{file}");
            assert!(snap.icon().unwrap().is_some(), "{file} has an icon");
            if y.snap_type.to_string() == "app" && file.ends_with("_1.snap") {
                apps += 1;
                assert_eq!(y.base.as_deref(), Some("shelf-base"));
            }
            interfaces.extend(y.all_plugs().into_values());
            let entry = catalog.snaps.iter().find(|s| s.name == y.name).unwrap();
            assert!(!entry.screenshots.is_empty());
            for m in entry.icon.iter().chain(&entry.screenshots) {
                assert!(t.path().join("media").join(m).is_file(), "{m}");
            }
            if y.name == "shelf-base" {
                let paths: BTreeSet<&str> =
                    snap.entries().iter().map(|e| e.path.as_str()).collect();
                for p in [
                    "bin/sh",
                    "usr/bin/env",
                    "usr/bin/wget",
                    "bin/ls",
                    "etc/passwd",
                    "etc/group",
                    "etc/nsswitch.conf",
                    "home",
                    "proc",
                    "var/spool",
                ] {
                    assert!(paths.contains(p), "the base lacks /{p}");
                }
            }
            if y.name == "shelf-eyes" {
                let paths: BTreeSet<&str> =
                    snap.entries().iter().map(|e| e.path.as_str()).collect();
                assert!(paths.contains("usr/bin/xeyes"));
                assert!(paths.contains("lib64/ld-linux-x86-64.so.2"));
                assert!(!snap.desktop_files().unwrap().is_empty());
            }
            if y.name == "shelf-layout" {
                let targets: Vec<&str> = y.layout.iter().map(|l| l.path.as_str()).collect();
                assert_eq!(targets.len(), 3);
                for p in ["/var/lib/foo", "/usr/share/foo", "/etc/foo.conf"] {
                    assert!(targets.contains(&p));
                }
            }
        }
        assert!(apps >= 10, "{apps} apps");
        for i in [
            "network",
            "home",
            "camera",
            "removable-media",
            "audio-playback",
            "x11",
        ] {
            assert!(interfaces.contains(i), "no app plugs {i}");
        }
        let clock = catalog
            .snaps
            .iter()
            .find(|s| s.name == "shelf-clock")
            .unwrap();
        let revs: BTreeSet<u32> = clock
            .channels
            .values()
            .flat_map(|r| r.revisions())
            .collect();
        assert_eq!(revs.len(), 3);
        let validations: BTreeSet<&str> = catalog
            .publishers
            .iter()
            .map(|p| p.validation.as_str())
            .collect();
        assert!(
            validations.contains("verified")
                && validations.contains("unproven")
                && validations.contains("starred")
        );
        let png = std::fs::read(t.path().join("media/shelf-clock/icon.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

        // Building again gives the same bytes.
        let t2 = tempfile::tempdir().unwrap();
        build(t2.path()).unwrap();
        for f in [
            "snaps/shelf-clock_2.snap",
            "snaps/shelf-base_1.snap",
            "media/shelf-eyes/screenshot-1.png",
        ] {
            assert_eq!(
                std::fs::read(t.path().join(f)).unwrap(),
                std::fs::read(t2.path().join(f)).unwrap(),
                "{f}"
            );
        }
    }

    #[test]
    fn generated_catalogs_load() {
        let t = tempfile::tempdir().unwrap();
        build_generated(t.path(), 25).unwrap();
        let model = crate::model::Model::load(t.path()).unwrap();
        // The apps, and the `core` they run on.
        assert_eq!(model.snaps.len(), 26);
        assert_eq!(model.snaps["core"].revisions[&1].snap_type, "os");
        assert!(model.skipped.is_empty());
        assert!(!model.find(Some("tool"), None, None).is_empty());
    }
}
