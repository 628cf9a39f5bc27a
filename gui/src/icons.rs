//! Icons and screenshots: fetched (store URLs) or read (installed icons), kept on disk, decoded
//! and scaled with the `image` crate (SVG with resvg) on a blocking thread. The main thread only
//! wraps the finished pixels in a texture.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha3::{Digest, Sha3_256};

/// Decoded RGBA pixels, ready to become a texture.
#[derive(Debug)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// Where an image comes from: a store URL or a local file the helper exported.
pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// Decoded images kept in memory, by source and box size. Bounded: browsing a hundred app
/// pages must not keep a hundred sets of screenshots.
struct Memory {
    map: HashMap<(String, u32), Arc<Pixels>>,
    order: std::collections::VecDeque<(String, u32)>,
    bytes: usize,
}

const MEMORY_BUDGET: usize = 24 << 20;

fn memory() -> &'static Mutex<Memory> {
    static M: OnceLock<Mutex<Memory>> = OnceLock::new();
    M.get_or_init(|| {
        Mutex::new(Memory {
            map: HashMap::new(),
            order: Default::default(),
            bytes: 0,
        })
    })
}

fn remember(key: (String, u32), p: Arc<Pixels>) {
    let mut m = memory().lock().unwrap_or_else(|e| e.into_inner());
    if m.map.contains_key(&key) {
        return;
    }
    m.bytes += p.rgba.len();
    m.order.push_back(key.clone());
    m.map.insert(key, p);
    while m.bytes > MEMORY_BUDGET {
        let Some(old) = m.order.pop_front() else {
            break;
        };
        if let Some(p) = m.map.remove(&old) {
            m.bytes -= p.rgba.len();
        }
    }
}

/// `$XDG_CACHE_HOME/snapshelf/images`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("snapshelf").join("images")
}

/// The disk cache may grow to this before the oldest images go.
pub const CACHE_MAX: u64 = 100 * 1024 * 1024;
/// What is left after a trim, so it does not trim again at every start.
pub const CACHE_KEEP: u64 = 80 * 1024 * 1024;

/// Keep the image cache within `max` bytes: past it, the least recently fetched images go until
/// `keep` is left; temporary files of downloads that never finished go after an hour. Returns the
/// bytes removed. Run once at start-up, on a thread of its own.
pub fn trim_cache(dir: &Path, max: u64, keep: u64) -> std::io::Result<u64> {
    let now = std::time::SystemTime::now();
    let mut files = Vec::new();
    let mut total = 0u64;
    let mut removed = 0u64;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let Ok(meta) = e.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(now);
        let name = e.file_name().to_string_lossy().into_owned();
        let old = now.duration_since(modified).unwrap_or_default() > Duration::from_secs(3600);
        if name.ends_with(".tmp") {
            if old && std::fs::remove_file(e.path()).is_ok() {
                removed += meta.len();
            }
            continue;
        }
        total += meta.len();
        files.push((modified, meta.len(), e.path()));
    }
    if total > max {
        files.sort();
        for (_, len, path) in files {
            if total <= keep {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
                removed += len;
            }
        }
    }
    Ok(removed)
}

fn cache_path(url: &str) -> PathBuf {
    cache_dir().join(hex::encode(Sha3_256::digest(url.as_bytes())))
}

/// The app's one HTTP client (images, and what the store says of a snap's plugs).
pub(crate) fn http() -> &'static reqwest::Client {
    static C: OnceLock<reqwest::Client> = OnceLock::new();
    C.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("snapshelf/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
}

/// At most this much is read for one image.
const MAX_IMAGE_BYTES: u64 = 16 << 20;

async fn bytes_of(source: &str) -> Option<Vec<u8>> {
    if !is_url(source) {
        let path = PathBuf::from(source);
        return tokio::task::spawn_blocking(move || read_capped(&path))
            .await
            .ok()?;
    }
    let cached = cache_path(source);
    if let Ok(b) = tokio::fs::read(&cached).await {
        // Fetched again, in effect: the trim keeps what is still being shown.
        let _ = tokio::task::spawn_blocking(move || {
            std::fs::File::options()
                .append(true)
                .open(&cached)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        })
        .await;
        return Some(b);
    }
    let r = http().get(source).send().await.ok()?;
    if !r.status().is_success() || r.content_length().unwrap_or(0) > MAX_IMAGE_BYTES {
        return None;
    }
    let b = r.bytes().await.ok()?.to_vec();
    if b.len() as u64 > MAX_IMAGE_BYTES {
        return None;
    }
    // Written aside and renamed, so a half-written file is never read back.
    // Per image and process: several images download at once, and windows share the cache.
    let dir = cache_dir();
    let name = cached
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    if tokio::fs::create_dir_all(&dir).await.is_ok() && tokio::fs::write(&tmp, &b).await.is_ok() {
        let _ = tokio::fs::rename(&tmp, &cached).await;
    }
    Some(b)
}

fn read_capped(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut v = Vec::new();
    f.take(MAX_IMAGE_BYTES).read_to_end(&mut v).ok()?;
    Some(v)
}

/// Decode and scale to fit a `max`×`max` box (never enlarged beyond 2×).
pub fn decode(bytes: &[u8], max: u32) -> Option<Pixels> {
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"<svg") || trimmed.starts_with(b"<?xml") {
        return render_svg(bytes, max);
    }
    let img = image::load_from_memory(bytes).ok()?;
    let (w, h) = (img.width().max(1), img.height().max(1));
    let scale = (max as f64 / w.max(h) as f64).min(2.0);
    let img = if (scale - 1.0).abs() > 0.01 {
        let nw = ((w as f64 * scale).round() as u32).max(1);
        let nh = ((h as f64 * scale).round() as u32).max(1);
        img.resize_exact(nw, nh, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let rgba = img.to_rgba8();
    Some(Pixels {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}

/// How SVG is parsed: an `<image>` may embed its picture as a `data:` URL, but never name a file.
/// usvg's default resolver reads any path it is given, and an icon is the snap publisher's file:
/// `href="/dev/zero"` would read forever, `href="/home/…"` would show the person's own files.
fn svg_options() -> resvg::usvg::Options<'static> {
    resvg::usvg::Options {
        image_href_resolver: resvg::usvg::ImageHrefResolver {
            resolve_data: resvg::usvg::ImageHrefResolver::default_data_resolver(),
            resolve_string: Box::new(|_, _| None),
        },
        ..resvg::usvg::Options::default()
    }
}

fn render_svg(bytes: &[u8], max: u32) -> Option<Pixels> {
    let tree = resvg::usvg::Tree::from_data(bytes, &svg_options()).ok()?;
    let size = tree.size();
    let scale = max as f32 / size.width().max(size.height()).max(1.0);
    let w = ((size.width() * scale).round() as u32).clamp(1, 4096);
    let h = ((size.height() * scale).round() as u32).clamp(1, 4096);
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h)?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    // tiny-skia keeps premultiplied alpha; textures here are straight RGBA.
    let mut rgba = pixmap.take();
    for px in rgba.chunks_exact_mut(4) {
        let a = px[3] as u32;
        if a > 0 && a < 255 {
            for c in &mut px[..3] {
                *c = ((*c as u32 * 255 + a / 2) / a).min(255) as u8;
            }
        }
    }
    Some(Pixels {
        width: w,
        height: h,
        rgba,
    })
}

/// The image at `source`, fitted into `max`×`max`; `None` when it cannot be had (offline, not an
/// image): the caller keeps its placeholder icon.
pub async fn load(source: String, max: u32) -> Option<Arc<Pixels>> {
    if source.is_empty() {
        return None;
    }
    let key = (source.clone(), max);
    if let Some(p) = memory()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .map
        .get(&key)
    {
        return Some(p.clone());
    }
    let bytes = bytes_of(&source).await?;
    let p = tokio::task::spawn_blocking(move || decode(&bytes, max))
        .await
        .ok()??;
    let p = Arc::new(p);
    remember(key, p.clone());
    Some(p)
}

/// Wrap decoded pixels in a texture (main thread; no decoding happens here).
pub fn texture(p: &Pixels) -> relm4::gtk::gdk::Texture {
    use relm4::gtk::{gdk, glib};
    gdk::MemoryTexture::new(
        p.width as i32,
        p.height as i32,
        gdk::MemoryFormat::R8g8b8a8,
        &glib::Bytes::from(&p.rgba[..]),
        p.width as usize * 4,
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_fits_png_and_svg() {
        let mut png = Vec::new();
        let img = image::RgbaImage::from_pixel(256, 128, image::Rgba([10, 20, 30, 255]));
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let p = decode(&png, 64).unwrap();
        assert_eq!((p.width, p.height), (64, 32));
        assert_eq!(&p.rgba[..4], &[10, 20, 30, 255]);
        let svg = br##"<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16" fill="#ff0000"/></svg>"##;
        let p = decode(svg, 48).unwrap();
        assert_eq!((p.width, p.height), (48, 48));
        assert_eq!(&p.rgba[..4], &[255, 0, 0, 255]);
        assert!(decode(b"not an image", 48).is_none());
    }

    /// An SVG whose only content is one `<image>` filling it, from `href`.
    fn svg_with_image(href: &str) -> Vec<u8> {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="8" height="8"><image width="8" height="8" href="{href}"/><image width="8" height="8" xlink:href="{href}"/></svg>"#
        )
        .into_bytes()
    }

    /// Decode on a thread of its own: reading `/dev/zero` would never end, so a regression fails
    /// here after a while instead of hanging the test run.
    fn decode_within(bytes: Vec<u8>, seconds: u64) -> Option<Pixels> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(decode(&bytes, 8));
        });
        rx.recv_timeout(std::time::Duration::from_secs(seconds))
            .expect("decoding an SVG took too long: did it read a file its <image> names?")
    }

    #[test]
    fn svg_images_come_only_from_data_urls() {
        use resvg::usvg::Options;
        // A file that exists and is a fine image: the SVG must still not show it.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret.png");
        std::fs::write(&file, png([0, 255, 0])).unwrap();
        let options = svg_options();
        for href in ["/dev/zero", file.to_str().unwrap(), "secret.png"] {
            assert!(
                (options.image_href_resolver.resolve_string)(href, &Options::default()).is_none(),
                "{href} was resolved"
            );
        }
        for href in [
            "/dev/zero".to_string(),
            file.display().to_string(),
            format!("file://{}", file.display()),
        ] {
            let p = decode_within(svg_with_image(&href), 30).expect("the SVG itself renders");
            assert!(
                p.rgba.chunks_exact(4).all(|px| px[3] == 0),
                "{href}: the image was drawn, so the file was read"
            );
        }

        // The same picture embedded as a data: URL is drawn.
        let b64 = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(png([0, 255, 0]))
        };
        let p = decode_within(svg_with_image(&format!("data:image/png;base64,{b64}")), 30).unwrap();
        assert_eq!(&p.rgba[..4], &[0, 255, 0, 255]);
    }

    fn png(rgb: [u8; 3]) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbaImage::from_pixel(8, 8, image::Rgba([rgb[0], rgb[1], rgb[2], 255]))
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    /// Many images fetched at once each land in their own cache file (a shared temporary name once
    /// gave apps each other's icons), and a second load reads the disk cache, not the network.
    #[test]
    fn concurrent_downloads_keep_each_image_its_own() {
        let cache = tempfile::tempdir().unwrap();
        std::env::set_var("XDG_CACHE_HOME", cache.path());
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                loop {
                    let Ok((mut sock, _)) = listener.accept().await else { break };
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 2048];
                        let n = sock.read(&mut buf).await.unwrap_or(0);
                        let req = String::from_utf8_lossy(&buf[..n]).to_string();
                        let i: u8 = req
                            .split_whitespace()
                            .nth(1)
                            .and_then(|p| p.trim_start_matches("/img/").parse().ok())
                            .unwrap_or(0);
                        // Slow enough that the downloads overlap.
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        let body = png([i, 255 - i, 7]);
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: image/png\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(&body).await;
                    });
                }
            });
            let urls: Vec<String> = (0..24u8).map(|i| format!("http://{addr}/img/{i}")).collect();
            let loads = urls.iter().map(|u| load(u.clone(), 8));
            let got = futures_util::future::join_all(loads).await;
            for (i, p) in got.iter().enumerate() {
                let p = p.as_ref().expect("loaded");
                assert_eq!(&p.rgba[..3], &[i as u8, 255 - i as u8, 7], "image {i}");
            }
            server.abort();
            // The server is gone: a new size (not in memory) must come from the disk cache.
            let again = load(urls[5].clone(), 4).await.expect("from the disk cache");
            assert_eq!(&again.rgba[..3], &[5, 250, 7]);
        });
    }

    #[test]
    fn the_disk_cache_is_trimmed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(7200);
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![0u8; 1000]).unwrap();
            let f = std::fs::File::options().append(true).open(&p).unwrap();
            f.set_modified(old + Duration::from_secs(i as u64 * 60))
                .unwrap();
        }
        let tmp = dir.path().join(".x.1.tmp");
        std::fs::write(&tmp, b"half").unwrap();
        std::fs::File::options()
            .append(true)
            .open(&tmp)
            .unwrap()
            .set_modified(old)
            .unwrap();
        // Under the limit: only the abandoned temporary file goes.
        assert_eq!(trim_cache(dir.path(), 10_000, 5_000).unwrap(), 4);
        assert!(!tmp.exists());
        // Over it: the oldest go until what is kept fits.
        assert_eq!(trim_cache(dir.path(), 3_000, 2_000).unwrap(), 2_000);
        let left: Vec<bool> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| dir.path().join(n).exists())
            .collect();
        assert_eq!(left, [false, false, true, true]);
    }

    #[test]
    fn the_memory_cache_stays_within_budget() {
        for i in 0..40 {
            let p = Arc::new(Pixels {
                width: 1024,
                height: 1024,
                rgba: vec![0; 1 << 20],
            });
            remember((format!("test-{i}"), 1), p);
        }
        let m = memory().lock().unwrap();
        assert!(m.bytes <= MEMORY_BUDGET, "{}", m.bytes);
        assert_eq!(m.map.len(), m.order.len());
    }
}
