//! `meta/snap.yaml` as a hostile snap or store writes it: any text must parse or be refused with an
//! error, never panic, hang or blow the stack (aliases, deep nesting, huge maps).
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapshelf_snap::yaml::SnapYaml;

fuzz_target!(|data: &[u8]| {
    // The reader hands over UTF-8 only (squashfs.rs checks it), so other bytes are out of scope.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(y) = SnapYaml::parse(text) else {
        return;
    };
    // What the helper does next with an accepted snap.yaml: every app's plugs and slots.
    assert_eq!(y.raw(), text, "an accepted snap.yaml keeps its text");
    let _ = y.all_plugs();
    for app in y.apps.keys() {
        let _ = y.plugs_for_app(app);
        let _ = y.slots_for_app(app);
    }
});
